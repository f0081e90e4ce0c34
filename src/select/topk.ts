/**
 * Global exact top-k over a stream of non-negative float32 scores, in two passes and O(1) memory
 * (two 65,536-bin histograms, 1 MiB), whatever N is:
 *
 * - pass 1: histogram of the top 16 bits of every score's bit pattern (see bits.ts: monotonic for
 *   x ≥ 0). Walking bins from the top finds the boundary bin B that holds the k-th largest score,
 *   and the number of scores above it.
 * - pass 2: histogram of the low 16 bits of the scores whose top 16 bits are B. Walking it from the
 *   top gives the k-th largest score's full bit pattern T — the exact threshold — and
 *   count_gt = #(s > T), count_eq = #(s = T).
 *
 * Tie rule (deterministic, exactly k selected): every score > T is selected; scores = T are
 * selected in order of their global index — tensor order (the order the caller streams tensors,
 * `Checkpoint.names()` for checkpoints), then element index within the tensor — until k are
 * selected, i.e. the first k − count_gt of them. `MaskEmitter` applies the rule to the same stream.
 *
 * `referenceTopK` (sort-based, in memory) sits beside it; tests hold them equal.
 */
import { bitsF32, bitsView, scoreKey } from './bits';

export interface Threshold {
  /** number of scores seen */
  n: number;
  k: number;
  /** bit pattern of the k-th largest score (0x7fffffff when k = 0: nothing is selected) */
  bits: number;
  /** the k-th largest score (NaN when k = 0) */
  value: number;
  /** #(s > threshold) */
  countGt: number;
  /** #(s = threshold) */
  countEq: number;
  /** how many of the ties are selected: k − countGt */
  takeEq: number;
}

export const BINS = 65536;

/**
 * Pass 1's histogram: counts of the top 16 bits of every score's bit pattern, added to `h`.
 * `at(i)` names element i for the error of a NaN or negative score.
 */
export function histTop(scores: Float32Array, h: Uint32Array, at: (i: number) => string): void {
  const b = bitsView(scores);
  for (let i = 0; i < b.length; i++) {
    const x = b[i];
    if (x > 0x7f800000) h[scoreKey(x, () => at(i)) >>> 16]++;
    else h[x >>> 16]++;
  }
}

/** Pass 2's histogram: counts of the low 16 bits of the scores whose top 16 bits are `boundary`. */
export function histLow(scores: Float32Array, boundary: number, h: Uint32Array, at: (i: number) => string): void {
  const b = bitsView(scores);
  for (let i = 0; i < b.length; i++) {
    let x = b[i];
    if (x > 0x7f800000) x = scoreKey(x, () => at(i));
    if (x >>> 16 === boundary) h[x & 0xffff]++;
  }
}

/** The two-pass selector. Feed every chunk to `pass1`, call `endPass1`, then the same chunks, in the same order, to `pass2`. */
export class GlobalTopK {
  private readonly hist = new Float64Array(BINS);
  private readonly chunkHist = new Uint32Array(BINS);
  private n = 0;
  private n2 = 0;
  private boundary = -1;
  private above = 0;
  private done: Threshold | null = null;
  private pending = 0;

  /** k: how many to select (see `kOf` for k = round(frac·N)). */
  constructor(readonly k: number) {
    if (!Number.isSafeInteger(k) || k < 0) throw new RangeError(`k must be a non-negative integer, got ${k}`);
  }

  pass1(scores: Float32Array): void {
    if (this.boundary >= 0) throw new Error('GlobalTopK.pass1 after endPass1');
    const len = scores.length;
    this.count(len);
    const at = this.n - len;
    histTop(scores, this.chunkHist, (i) => `element ${at + i} of the stream`);
  }

  /** The boundary bin found by `endPass1` (the top 16 bits pass 2 looks at); −1 before. */
  get boundaryBin(): number {
    return this.boundary;
  }

  /**
   * Adds a histogram of `count` scores computed elsewhere (with `histTop` in pass 1, `histLow` with
   * `boundaryBin` in pass 2), e.g. by worker threads over parts of the stream.
   */
  merge(hist: Float64Array | Uint32Array, count: number): void {
    if (hist.length !== BINS) throw new RangeError(`GlobalTopK.merge: ${hist.length} bins, expected ${BINS}`);
    if (this.done) return;
    this.flush();
    if (this.boundary >= 0) this.n2 += count;
    else this.n += count;
    for (let j = 0; j < BINS; j++) this.hist[j] += hist[j];
  }

  /** Counts go to a Uint32 histogram (fast) and are folded into the float64 one before it could overflow. */
  private count(len: number): void {
    if (this.pending + len > 0xffffffff) this.flush();
    this.pending += len;
    if (this.boundary >= 0) this.n2 += len;
    else this.n += len;
  }

  private flush(): void {
    const h = this.chunkHist;
    const H = this.hist;
    for (let j = 0; j < BINS; j++) {
      if (h[j] !== 0) {
        H[j] += h[j];
        h[j] = 0;
      }
    }
    this.pending = 0;
  }

  /** Ends pass 1. Returns the threshold at once when k = 0 (no second pass needed), else null. */
  endPass1(): Threshold | null {
    this.flush();
    if (this.k > this.n) throw new RangeError(`k = ${this.k} exceeds the ${this.n} scores streamed`);
    let cum = 0;
    let b = BINS - 1;
    if (this.k === 0) {
      this.boundary = 0;
      this.done = { n: this.n, k: 0, bits: 0x7fffffff, value: NaN, countGt: 0, countEq: 0, takeEq: 0 };
      return this.done;
    }
    for (; b >= 0; b--) {
      if (cum + this.hist[b] >= this.k) break;
      cum += this.hist[b];
    }
    this.boundary = b;
    this.above = cum;
    this.hist.fill(0);
    return null;
  }

  pass2(scores: Float32Array): void {
    if (this.boundary < 0) throw new Error('GlobalTopK.pass2 before endPass1');
    if (this.done) return;
    const len = scores.length;
    this.count(len);
    const at = this.n2 - len;
    histLow(scores, this.boundary, this.chunkHist, (i) => `element ${at + i} of the stream`);
  }

  endPass2(): Threshold {
    if (this.done) return this.done;
    this.flush();
    if (this.n2 !== this.n) throw new Error(`GlobalTopK: pass 2 saw ${this.n2} scores, pass 1 saw ${this.n}`);
    let cum = this.above;
    let t = BINS - 1;
    for (; t >= 0; t--) {
      if (cum + this.hist[t] >= this.k) break;
      cum += this.hist[t];
    }
    const bits = ((this.boundary << 16) | t) >>> 0;
    this.done = { n: this.n, k: this.k, bits, value: bitsF32(bits), countGt: cum, countEq: this.hist[t], takeEq: this.k - cum };
    return this.done;
  }
}

/**
 * Applies a threshold's tie rule to the score stream, chunk by chunk, in global order:
 * mask = 1 where s > T, and for s = T the first `takeEq` of them.
 */
export class MaskEmitter {
  private tiesLeft: number;
  private selected = 0;

  constructor(readonly threshold: Threshold) {
    this.tiesLeft = threshold.takeEq;
  }

  /** Writes 0/1 into `out` (same length as `scores`); returns how many were selected in this chunk. */
  emit(scores: Float32Array, out: Uint8Array = new Uint8Array(scores.length)): Uint8Array {
    const b = bitsView(scores);
    const T = this.threshold.bits;
    let sel = 0;
    let eq = 0;
    for (let i = 0; i < b.length; i++) {
      let x = b[i];
      if (x === 0x80000000) x = 0;
      const m = (T - x) >>> 31; // x > T, without a branch (both below 2³¹: no NaN or negative scores reach here)
      out[i] = m;
      sel += m;
      if (x === T) eq++;
    }
    // ties (s = T), rare: the first ones in stream order while any are left to take
    for (let i = 0; eq > 0 && this.tiesLeft > 0 && i < b.length; i++) {
      let x = b[i];
      if (x === 0x80000000) x = 0;
      if (x === T) {
        out[i] = 1;
        sel++;
        eq--;
        this.tiesLeft--;
      }
    }
    this.selected += sel;
    return out;
  }

  /** How many have been selected so far (k once the whole stream has been emitted). */
  get count(): number {
    return this.selected;
  }
}

/** Runs both passes over a re-iterable stream of chunks. */
export function streamThreshold(chunks: () => Iterable<Float32Array>, k: number): { threshold: Threshold; passes: number } {
  const sel = new GlobalTopK(k);
  for (const c of chunks()) sel.pass1(c);
  const early = sel.endPass1();
  if (early) return { threshold: early, passes: 1 };
  for (const c of chunks()) sel.pass2(c);
  return { threshold: sel.endPass2(), passes: 2 };
}

/** Exact top-k masks over in-memory arrays (one per tensor), by the two-pass selector and the tie rule. */
export function topKMasks(tensors: readonly Float32Array[], k: number): { masks: Uint8Array[]; threshold: Threshold } {
  const { threshold } = streamThreshold(() => tensors, k);
  const em = new MaskEmitter(threshold);
  return { masks: tensors.map((t) => em.emit(t)), threshold };
}

/**
 * Reference: sort every (score, global index) pair by score descending, index ascending, take the
 * first k. O(N log N) time and memory; for tests.
 */
export function referenceTopK(tensors: readonly Float32Array[], k: number): { masks: Uint8Array[]; threshold: Threshold } {
  const all: number[] = [];
  const owner: Array<[number, number]> = [];
  tensors.forEach((t, ti) =>
    t.forEach((v, i) => {
      if (Number.isNaN(v) || v < 0) throw new RangeError(`score ${v} at element ${i} of tensor ${ti} is not a number ≥ 0`);
      all.push(v === 0 ? 0 : v);
      owner.push([ti, i]);
    }),
  );
  const n = all.length;
  if (k > n) throw new RangeError(`k = ${k} exceeds the ${n} scores`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => all[b] - all[a] || a - b);
  const masks = tensors.map((t) => new Uint8Array(t.length));
  for (let r = 0; r < k; r++) {
    const [ti, i] = owner[order[r]];
    masks[ti][i] = 1;
  }
  if (k === 0) return { masks, threshold: { n, k, bits: 0x7fffffff, value: NaN, countGt: 0, countEq: 0, takeEq: 0 } };
  const value = Math.fround(all[order[k - 1]]);
  let countGt = 0;
  let countEq = 0;
  for (const v of all) {
    if (v > value) countGt++;
    else if (v === value) countEq++;
  }
  const f = new Float32Array([value]);
  return { masks, threshold: { n, k, bits: new Uint32Array(f.buffer)[0], value, countGt, countEq, takeEq: k - countGt } };
}
