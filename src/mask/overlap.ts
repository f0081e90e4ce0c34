/**
 * Overlap between masks (and between score vectors), accumulated tensor by tensor:
 *
 *   SIR(a, b)  = |a ∩ b| / k,  k = |a|   (Poppi et al. 2025: safety-information overlap ratio;
 *                                          k = |a| = |b| for global top-k masks of the same k)
 *   IoU(a, b)  = |a ∩ b| / |a ∪ b|
 *   cos(a, b)  = Σ aᵢbᵢ / √(Σ aᵢ² · Σ bᵢ²) = |a ∩ b| / √(|a|·|b|)   (masks are 0/1 vectors)
 *   global SIR over a pool P = |⋂_{m∈P} m| / k, k = |first mask|
 *   random baseline: a uniformly random k-subset meets a fixed k-set in k²/N entries on average,
 *   so E[SIR] = k/N (the random mask's row in the overlap table).
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

/** SIR, IoU and the mask cosine from the counts of two masks. */
export function overlapMetrics(c: PairCounts): { sir: number; iou: number; cosine: number } {
  return {
    sir: c.a > 0 ? c.inter / c.a : 0,
    iou: c.union > 0 ? c.inter / c.union : 0,
    cosine: c.a > 0 && c.b > 0 ? c.inter / Math.sqrt(c.a * c.b) : 0,
  };
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
