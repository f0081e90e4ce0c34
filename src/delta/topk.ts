/**
 * Exact top-k threshold over the magnitudes of a stream of values (e.g. |Δ| of all tensors together),
 * without holding them: radix select on the float64 bit pattern, 16 bits per pass, 4 passes over
 * the stream. For non-negative doubles the bit pattern orders like the value.
 *
 * Tie rule (explicit): `threshold` is the k-th largest value (1-based, counting duplicates);
 * `count_gt` = #(v > threshold) < k ≤ count_gt + count_eq = #(v ≥ threshold). Selecting "v > t" gives
 * fewer than k elements, "v ≥ t" gives k or more when there are ties at t.
 * NaN values are skipped.
 *
 * (Kept here for delta reports and their tests; mask selection may build on it.)
 */

/** Calls `visit` once per chunk of values, in any order; called once per pass (4 times). */
export type ValueStream = (visit: (values: ArrayLike<number>) => void) => void | Promise<void>;

export interface TopkThreshold {
  k: number;
  threshold: number;
  count_gt: number;
  count_eq: number;
  /** values seen (NaN excluded) */
  n: number;
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** k-th largest value of `stream` and the counts above and at it; k in [1, n]. */
export async function topkThreshold(stream: ValueStream, k: number): Promise<TopkThreshold> {
  if (!Number.isSafeInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
  let hiPrefix = 0; // chosen bits so far, for the hi word (passes 0, 1) and lo word (passes 2, 3)
  let loPrefix = 0;
  let remaining = k;
  let above = 0;
  let n = 0;
  let eq = 0;
  for (let pass = 0; pass < 4; pass++) {
    const hist = new Float64Array(65536);
    let seen = 0;
    await stream((values) => {
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (v !== v) continue;
        seen++;
        f64[0] = Math.abs(v);
        const hi = u32[1];
        const lo = u32[0];
        let digit: number;
        if (pass === 0) digit = hi >>> 16;
        else if (pass === 1) {
          if (hi >>> 16 !== hiPrefix >>> 16) continue;
          digit = hi & 0xffff;
        } else if (pass === 2) {
          if (hi !== hiPrefix) continue;
          digit = lo >>> 16;
        } else {
          if (hi !== hiPrefix || lo >>> 16 !== loPrefix >>> 16) continue;
          digit = lo & 0xffff;
        }
        hist[digit]++;
      }
    });
    if (pass === 0) {
      n = seen;
      if (k > n) throw new RangeError(`k = ${k} exceeds the ${n} values in the stream`);
    }
    let b = 65535;
    for (; b >= 0; b--) {
      if (hist[b] >= remaining) break;
      remaining -= hist[b];
      above += hist[b];
    }
    if (pass === 0) hiPrefix = (b << 16) >>> 0;
    else if (pass === 1) hiPrefix = (hiPrefix | b) >>> 0;
    else if (pass === 2) loPrefix = (b << 16) >>> 0;
    else {
      loPrefix = (loPrefix | b) >>> 0;
      eq = hist[b];
    }
  }
  u32[1] = hiPrefix;
  u32[0] = loPrefix;
  return { k, threshold: f64[0], count_gt: above, count_eq: eq, n };
}

/** Reference: sort a copy descending (small inputs only). */
export function topkThresholdSorted(values: ArrayLike<number>, k: number): TopkThreshold {
  const v = Float64Array.from(values, Math.abs).filter((x) => x === x).sort().reverse();
  if (k < 1 || k > v.length) throw new RangeError(`k = ${k} outside [1, ${v.length}]`);
  const t = v[k - 1];
  let gt = 0;
  let eq = 0;
  for (const x of v) {
    if (x > t) gt++;
    else if (x === t) eq++;
  }
  return { k, threshold: t, count_gt: gt, count_eq: eq, n: v.length };
}
