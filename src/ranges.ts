/** Element ranges [start, end) of at most `step` elements covering [0, n) (none when n = 0). */
export function* ranges(n: number, step: number): Generator<[number, number]> {
  for (let s = 0; s < n; s += step) yield [s, Math.min(n, s + step)];
}
