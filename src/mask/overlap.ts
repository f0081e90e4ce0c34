/**
 * Overlap between masks (and between score vectors), accumulated tensor by tensor:
 *
 *   SIR(a, b)  = |a ∩ b| / k,  k = |a|   (Poppi et al. 2025: safety-information overlap ratio;
 *                                          k = |a| = |b| for global top-k masks of the same k)
 *   IoU(a, b)  = |a ∩ b| / |a ∪ b|
 *   cos(a, b)  = Σ aᵢbᵢ / √(Σ aᵢ² · Σ bᵢ²)   — of masks (0/1 vectors): |a ∩ b| / √(|a|·|b|);
 *                                              of score vectors: the cosine of the raw scores.
 *   global SIR over a pool P = |⋂_{m∈P} m| / k, k = |first mask|
 *   random baseline: a uniformly random k-subset meets a fixed k-set in k²/N entries on average,
 *   so E[SIR] = k/N.
 * Empty denominators give 0.
 */
import { intersectAll } from './algebra';
import { countAnd, countOnes } from './words';

export interface PairCounts {
  a: number;
  b: number;
  inter: number;
  union: number;
}

/** Streams |a|, |b|, |a ∩ b|, |a ∪ b| over chunks of two masks. */
export class MaskOverlap {
  private c: PairCounts = { a: 0, b: 0, inter: 0, union: 0 };

  add(a: Uint8Array, b: Uint8Array): void {
    if (a.length !== b.length) throw new RangeError(`MaskOverlap: chunks of ${a.length} and ${b.length} entries`);
    let ca = 0;
    let cb = 0;
    let ci = 0;
    for (let i = 0; i < a.length; i++) {
      const x = a[i];
      const y = b[i];
      ca += x;
      cb += y;
      ci += x & y;
    }
    this.c.a += ca;
    this.c.b += cb;
    this.c.inter += ci;
    this.c.union += ca + cb - ci;
  }

  get counts(): PairCounts {
    return { ...this.c };
  }

  metrics(): { sir: number; iou: number; cosine: number } {
    return overlapMetrics(this.c);
  }
}

export function overlapMetrics(c: PairCounts): { sir: number; iou: number; cosine: number } {
  return {
    sir: c.a > 0 ? c.inter / c.a : 0,
    iou: c.union > 0 ? c.inter / c.union : 0,
    cosine: c.a > 0 && c.b > 0 ? c.inter / Math.sqrt(c.a * c.b) : 0,
  };
}

/** Streams the cosine of two score vectors, Σab / √(Σa²·Σb²), in float64. */
export class ScoreCosine {
  private ab = 0;
  private aa = 0;
  private bb = 0;

  add(a: Float32Array, b: Float32Array): void {
    if (a.length !== b.length) throw new RangeError(`ScoreCosine: chunks of ${a.length} and ${b.length} scores`);
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let i = 0; i < a.length; i++) {
      const x = a[i];
      const y = b[i];
      ab += x * y;
      aa += x * x;
      bb += y * y;
    }
    this.ab += ab;
    this.aa += aa;
    this.bb += bb;
  }

  value(): number {
    return this.aa > 0 && this.bb > 0 ? this.ab / Math.sqrt(this.aa * this.bb) : 0;
  }
}

/** Streams |⋂ pool| and |first| over chunks (one chunk per mask of the pool, same tensor range). */
export class PoolOverlap {
  private inter = 0;
  private k = 0;

  add(pool: readonly Uint8Array[]): void {
    if (pool.length === 0) throw new RangeError('PoolOverlap: empty pool');
    this.inter += pool.length === 1 ? countOnes(pool[0]) : pool.length === 2 ? countAnd(pool[0], pool[1]) : countOnes(intersectAll(pool));
    this.k += countOnes(pool[0]);
  }

  /** global SIR = |⋂ pool| / k */
  sir(): number {
    return this.k > 0 ? this.inter / this.k : 0;
  }

  get intersection(): number {
    return this.inter;
  }
}

/** Expected SIR of a uniformly random k-subset of N against any fixed k-subset: k/N. */
export function expectedRandomSir(k: number, n: number): number {
  return n > 0 ? k / n : 0;
}
