/**
 * Mask selection over a streamed score source — what `sil locate` calls once per language.
 * The source hands out each tensor's score chunks in element order, as often as asked (each pass
 * re-reads or recomputes them); nothing larger than a chunk (or, for `row`, a few rows) is held.
 *
 * - `global`: k = round(frac·N) over all tensors; passes 1 and 2 of `GlobalTopK`, then the tie rule
 *   (lowest global index first) as the mask is emitted: three traversals of the source.
 * - `tensor`: the same per tensor, k_t = round(frac·numel_t).
 * - `row`: per row of each tensor (1-D tensors are one row), k_r = round(frac·cols); one traversal.
 *
 * `selectMasksWith` takes the two histogram passes of `global` from a `HistogramProvider` (e.g.
 * worker threads that each score part of the tensors), and emits the mask on the calling thread;
 * the result is the same as `selectMasks`'s, bit for bit.
 */
import { kOf } from './bits';
import { rowTopKMask } from './local';
import { GlobalTopK, MaskEmitter, type Threshold } from './topk';
import type { Per } from './local';

export interface SourceTensor {
  name: string;
  shape: number[];
  numel: number;
}

export interface ChunkSource<T extends SourceTensor = SourceTensor> {
  tensors: readonly T[];
  /** the tensor's scores in element order, in chunks of any size */
  chunks(t: T): Iterable<Float32Array>;
}

/** Receives the mask of elements [start, start + mask.length) of a tensor, with their scores. */
export type MaskSink<T extends SourceTensor = SourceTensor> = (t: T, start: number, scores: Float32Array, mask: Uint8Array) => void;

export interface SelectionResult {
  per: Per;
  n: number;
  k: number;
  /** the global threshold (`global` only) */
  threshold?: Threshold;
  /** traversals of the source */
  passes: number;
}

function emitAll<T extends SourceTensor>(src: ChunkSource<T>, tensors: readonly T[], em: MaskEmitter, sink: MaskSink<T>): void {
  for (const t of tensors) {
    let start = 0;
    for (const c of src.chunks(t)) {
      sink(t, start, c, em.emit(c));
      start += c.length;
    }
  }
}

export function selectMasks<T extends SourceTensor>(src: ChunkSource<T>, frac: number, per: Per, sink: MaskSink<T>): SelectionResult {
  const n = src.tensors.reduce((a, t) => a + t.numel, 0);
  if (per === 'global') {
    const k = kOf(frac, n);
    const sel = new GlobalTopK(k);
    for (const t of src.tensors) for (const c of src.chunks(t)) sel.pass1(c);
    let threshold = sel.endPass1();
    let passes = 1;
    if (!threshold) {
      for (const t of src.tensors) for (const c of src.chunks(t)) sel.pass2(c);
      threshold = sel.endPass2();
      passes = 2;
    }
    emitAll(src, src.tensors, new MaskEmitter(threshold), sink);
    return { per, n, k, threshold, passes: passes + 1 };
  }
  if (per === 'tensor') {
    let k = 0;
    for (const t of src.tensors) {
      const kt = kOf(frac, t.numel);
      k += kt;
      const sel = new GlobalTopK(kt);
      for (const c of src.chunks(t)) sel.pass1(c);
      let th = sel.endPass1();
      if (!th) {
        for (const c of src.chunks(t)) sel.pass2(c);
        th = sel.endPass2();
      }
      emitAll(src, [t], new MaskEmitter(th), sink);
    }
    return { per, n, k, passes: 3 };
  }
  let k = 0;
  for (const t of src.tensors) {
    const cols = t.shape.length >= 2 ? t.numel / t.shape[0] : t.numel;
    k += kOf(frac, cols) * (t.numel / Math.max(cols, 1));
    let carry = new Float32Array(0);
    let start = 0;
    for (const c of src.chunks(t)) {
      const all = carry.length ? concat(carry, c) : c;
      const whole = all.length - (all.length % cols);
      if (whole > 0) {
        const s = all.slice(0, whole);
        sink(t, start, s, rowTopKMask(s, cols, frac));
        start += whole;
      }
      carry = all.slice(whole);
    }
  }
  return { per, n, k, passes: 1 };
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * The histograms of the two passes of a global selection over the whole stream: `histTop` of every
 * score (pass 1), then `histLow` at the boundary bin (pass 2), each with the number of scores seen.
 */
export interface HistogramProvider {
  histogram(pass: 1 | 2, boundary: number): Promise<{ hist: Float64Array; count: number }>;
  /** optional: every tensor's score chunks, in stream order (computed ahead, e.g. on workers) */
  scores?(): AsyncIterable<{ tensor: number; scores: Float32Array }>;
}

/** `selectMasks`, with the passes of a global selection taken from `hist` when given. */
export async function selectMasksWith<T extends SourceTensor>(src: ChunkSource<T>, frac: number, per: Per, sink: MaskSink<T>, hist?: HistogramProvider): Promise<SelectionResult> {
  if (per !== 'global' || !hist) return selectMasks(src, frac, per, sink);
  const n = src.tensors.reduce((a, t) => a + t.numel, 0);
  const k = kOf(frac, n);
  const sel = new GlobalTopK(k);
  const h1 = await hist.histogram(1, -1);
  if (h1.count !== n) throw new Error(`histogram pass 1 saw ${h1.count} scores, the stream has ${n}`);
  sel.merge(h1.hist, h1.count);
  let threshold = sel.endPass1();
  let passes = 1;
  if (!threshold) {
    const h2 = await hist.histogram(2, sel.boundaryBin);
    sel.merge(h2.hist, h2.count);
    threshold = sel.endPass2();
    passes = 2;
  }
  const em = new MaskEmitter(threshold);
  if (hist.scores) {
    let at = -1;
    let start = 0;
    for await (const { tensor, scores } of hist.scores()) {
      if (tensor !== at) {
        at = tensor;
        start = 0;
      }
      sink(src.tensors[tensor], start, scores, em.emit(scores));
      start += scores.length;
    }
  } else emitAll(src, src.tensors, em, sink);
  return { per, n, k, threshold, passes: passes + 1 };
}
