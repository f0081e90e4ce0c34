/**
 * weightdiff score: s = |Δ| = |θattacked − θpre| — the task vector's magnitude, no data needed.
 * Works on any element range (chunk) of a tensor.
 */
export function weightDiffScore(base: Float32Array, attacked: Float32Array, out: Float32Array = new Float32Array(base.length)): Float32Array {
  if (attacked.length !== base.length) throw new RangeError(`weightDiffScore: ${base.length} base vs ${attacked.length} attacked values`);
  for (let i = 0; i < base.length; i++) out[i] = Math.abs(attacked[i] - base[i]);
  return out;
}
