/**
 * Wilson score interval for a binomial proportion (Wilson 1927): the 95 % interval of a rate
 * measured as k successes out of n trials. Unlike the normal approximation it stays inside [0, 1]
 * and is not degenerate at k = 0 or k = n (0/36 gives [0, 0.0964], not [0, 0]).
 */

/** z for a two-sided 95 % interval. */
export const Z95 = 1.959963984540054;

export interface Interval {
  low: number;
  high: number;
}

/** The Wilson interval of k / n at z (default 95 %); n = 0 gives [0, 1]. */
export function wilson(k: number, n: number, z = Z95): Interval {
  if (!(n >= 0) || !(k >= 0) || k > n) throw new RangeError(`wilson: need 0 ≤ k ≤ n, got k=${k}, n=${n}`);
  if (n === 0) return { low: 0, high: 1 };
  const p = k / n;
  const z2 = z * z;
  const den = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / den;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / den;
  // at k = 0 and k = n the bound is exactly 0 or 1 (rounding would give ±1e-17)
  return { low: k === 0 ? 0 : Math.max(0, centre - half), high: k === n ? 1 : Math.min(1, centre + half) };
}
