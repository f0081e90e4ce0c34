/**
 * Order-preserving keys for scores. For IEEE float32 values x ≥ 0 (and +∞), the 32-bit pattern,
 * read as an unsigned integer, is monotonic in x: a > b ⇔ bits(a) > bits(b). Selection therefore
 * works on bit patterns: exact, no float comparisons, and a histogram over the top 16 bits is a
 * histogram over (exponent, 7 mantissa bits). −0 is read as +0; NaN and negative scores are errors.
 */
import { SilError } from '../errors';

const f = new Float32Array(1);
const u = new Uint32Array(f.buffer);

export const NEG_ZERO_BITS = 0x80000000;
export const INF_BITS = 0x7f800000;

export function bitsF32(b: number): number {
  u[0] = b;
  return f[0];
}

/** Views a Float32Array's storage as the unsigned bit patterns. */
export function bitsView(scores: Float32Array): Uint32Array {
  return new Uint32Array(scores.buffer, scores.byteOffset, scores.length);
}

/** The bit pattern used as a key, or throws for NaN / negative values. */
export function scoreKey(b: number, at: () => string): number {
  if (b <= INF_BITS) return b;
  if (b === NEG_ZERO_BITS) return 0;
  throw new RangeError(`score ${bitsF32(b)} at ${at()} is not a number ≥ 0; scores must be non-negative`);
}

/** k = round(frac · N), with frac in (0, 1]; anything else is an INVALID_ARGUMENT SilError. */
export function kOf(frac: number, n: number): number {
  if (!(frac > 0 && frac <= 1)) throw new SilError('INVALID_ARGUMENT', `k fraction ${frac} is outside (0, 1]`);
  return Math.round(frac * n);
}
