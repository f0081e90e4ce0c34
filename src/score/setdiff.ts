/**
 * Set difference (Wei et al. 2024, "Assessing the Brittleness of Safety Alignment via Pruning and
 * Low-Rank Modifications", §2.2): per weight matrix W,
 *
 *   S(q, p) = top-q%(safety score of W) \ top-p%(utility score of W)
 *
 * the weights most important for safety that are not among the most important for utility
 * (benign calibration data). Both tops are exact per-matrix top-k (k = round(frac·numel)) with
 * the selector's tie rule (lowest element index first).
 */
import { tensorTopKMask } from '../select/local';

/** 0/1 mask of one tensor: top-q of `safety` and not top-p of `utility`; q, p in (0, 1]. */
export function setDifferenceMask(safety: Float32Array, utility: Float32Array, q: number, p: number): Uint8Array {
  if (safety.length !== utility.length) throw new RangeError(`setDifferenceMask: ${safety.length} safety vs ${utility.length} utility scores`);
  const s = tensorTopKMask(safety, q);
  const u = tensorTopKMask(utility, p);
  for (let i = 0; i < s.length; i++) s[i] &= u[i] ^ 1;
  return s;
}
