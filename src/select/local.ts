/**
 * Local selection (`--per tensor|row`): the same exact top-k and tie rule as the global selector,
 * but with k taken per tensor (k_t = round(frac·numel_t)) or per row (k_r = round(frac·cols)).
 * Ties at a row's threshold go to the lowest column index; at a tensor's, to the lowest element
 * index. Tensors are scored in memory or streamed through `GlobalTopK` (see topk.ts) per tensor.
 */
import { bitsView, kOf } from './bits';
import { topKMasks } from './topk';

export type Per = 'global' | 'tensor' | 'row';
export const PERS: readonly Per[] = ['global', 'tensor', 'row'];

/** Exact top-round(frac·numel) of one tensor's scores. */
export function tensorTopKMask(scores: Float32Array, frac: number): Uint8Array {
  return topKMasks([scores], kOf(frac, scores.length)).masks[0];
}

/**
 * Exact top-round(frac·cols) of every row of a row-major [rows, cols] score matrix (1-D tensors
 * are one row). Rows are short, so each row's threshold comes from sorting its bit patterns.
 */
export function rowTopKMask(scores: Float32Array, cols: number, frac: number, out: Uint8Array = new Uint8Array(scores.length)): Uint8Array {
  if (cols <= 0 || scores.length % cols !== 0) throw new RangeError(`rowTopKMask: ${scores.length} scores are not whole rows of ${cols}`);
  const k = kOf(frac, cols);
  const bits = bitsView(scores);
  const row = new Uint32Array(cols);
  for (let r = 0; r < scores.length; r += cols) {
    for (let j = 0; j < cols; j++) {
      const x = bits[r + j];
      if (x === 0x80000000) row[j] = 0;
      else if (x > 0x7f800000) throw new RangeError(`score ${scores[r + j]} at element ${r + j} is not a number ≥ 0`);
      else row[j] = x;
    }
    if (k === 0) {
      out.fill(0, r, r + cols);
      continue;
    }
    const sorted = row.slice().sort();
    const T = sorted[cols - k];
    let gt = 0;
    for (let j = 0; j < cols; j++) if (row[j] > T) gt++;
    let ties = k - gt;
    for (let j = 0; j < cols; j++) {
      const x = row[j];
      let m = 0;
      if (x > T) m = 1;
      else if (x === T && ties > 0) {
        m = 1;
        ties--;
      }
      out[r + j] = m;
    }
  }
  return out;
}
