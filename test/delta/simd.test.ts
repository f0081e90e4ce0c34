import { encodeBf16 } from '../../src/io/dtype';
import { Bf16SimdKernel } from '../../src/delta/simd';
import { accumulateBf16, newAccum } from '../../src/delta/stats';

describe('WebAssembly SIMD BF16 kernel', () => {
  const k = Bf16SimdKernel.create();

  it('is available on Node 20', () => {
    expect(k).not.toBeNull();
  });

  it("gives the JS kernel's sums, maximum, changed count and |Δ| on the elements it covers", () => {
    let s = 7;
    const next = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (const n of [8, 64, 1000, 100003]) {
      const base = Float32Array.from({ length: n }, () => (next() - 0.5) * 0.2);
      const att = base.map((x) => (next() < 0.25 ? x : next() < 0.1 ? -x : x + (next() - 0.5) * 0.01));
      att[0] = -0; // a signed zero against a +0 base is unchanged
      base[0] = 0;
      const { a, b, abs } = k!.buffers(n);
      a.set(new Uint8Array(encodeBf16(base).buffer));
      b.set(new Uint8Array(encodeBf16(att).buffer));
      const { done, sums } = k!.run(a, b, abs, n);
      expect(done).toBe(n - (n % 8));
      const absJs = new Float32Array(done);
      const ref = accumulateBf16(new Uint16Array(a.buffer, a.byteOffset, done), new Uint16Array(b.buffer, b.byteOffset, done), done, newAccum(), absJs);
      expect(sums.changed).toBe(ref.changed);
      expect(sums.maxAbs).toBe(ref.maxAbs);
      expect(Math.abs(sums.l1 / ref.l1 - 1)).toBeLessThan(1e-12);
      expect(Math.abs(sums.l2sq / ref.l2sq - 1)).toBeLessThan(1e-12);
      expect(Math.abs(sums.w2sq / ref.w2sq - 1)).toBeLessThan(1e-12);
      expect(abs.subarray(0, done)).toEqual(absJs);
    }
  });
});
