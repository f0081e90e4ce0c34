import { packBits } from '../../src/mask/bitpack';
import { combineInto, countAnd, countOnes, firstNonBinary, unpackRange } from '../../src/mask/words';

/** seeded 0/1 entries, placed at byte `offset` of a larger buffer (views that are not 4-aligned) */
function mask(n: number, seed: number, offset: number): Uint8Array {
  const buf = new Uint8Array(n + offset + 3);
  const m = buf.subarray(offset, offset + n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    m[i] = (x >>> 16) & 1;
  }
  return m;
}

describe('word-at-a-time mask loops', () => {
  it.each([
    [0, 0],
    [1, 0],
    [0, 2],
    [3, 1],
  ])('count, intersect, unite and unpack exactly as entry-by-entry loops (offsets %i and %i)', (oa, ob) => {
    for (const n of [0, 1, 7, 8, 33, 1001]) {
      const a = mask(n, 1 + n, oa);
      const b = mask(n, 7 + n, ob);
      let ones = 0;
      let both = 0;
      for (let i = 0; i < n; i++) {
        ones += a[i];
        both += a[i] & b[i];
      }
      expect(countOnes(a)).toBe(ones);
      expect(countAnd(a, b)).toBe(both);
      expect([...combineInto(a.slice(), b, 'and')]).toEqual([...a].map((v, i) => v & b[i]));
      expect([...combineInto(a.slice(), b, 'or')]).toEqual([...a].map((v, i) => v | b[i]));
      const packed = packBits(a);
      for (const start of [0, 8, 3, Math.max(0, n - 9)]) {
        if (start > n) continue;
        expect([...unpackRange(packed.subarray(start >>> 3), start, n - start)]).toEqual([...a.subarray(start)]);
      }
    }
  });

  it('finds the first entry that is neither 0 nor 1, aligned or not', () => {
    for (const off of [0, 1]) {
      const a = mask(100, 3, off);
      expect(firstNonBinary(a)).toBe(-1);
      a[57] = 2;
      a[90] = 255;
      expect(firstNonBinary(a)).toBe(57);
    }
  });
});
