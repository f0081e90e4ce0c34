import { mulberry32 } from '../../src/train/rng';
import { encodeBf16 } from '../../src/io/dtype';
import { accumulateBf16, accumulateReference, accumulateValues, finalize, mergeAccum, newAccum } from '../../src/delta/stats';

/** Deterministic pseudo-random values in [0, 1) (mulberry32). */
const rand = (seed: number): (() => number) => mulberry32(seed).uniform;

function bf16Pair(n: number, seed: number): { a: Uint16Array; b: Uint16Array; af: Float32Array; bf: Float32Array } {
  const r = rand(seed);
  const af = new Float32Array(n).map(() => (r() - 0.5) * 0.1);
  const bf = af.map((x) => (r() < 0.3 ? x : x + (r() - 0.5) * 0.02));
  const a = encodeBf16(af);
  const b = encodeBf16(bf);
  // the decoded values, exactly what the kernel sees
  const dec = (u: Uint16Array) => new Float32Array(new Uint32Array(Array.from(u, (x) => x << 16)).buffer);
  return { a, b, af: dec(a), bf: dec(b) };
}

describe('delta statistics', () => {
  it('computes L1, L2, max, mean, relative L2 and fraction changed of attacked − base', () => {
    const base = new Float32Array([1, 2, 3, 4]);
    const att = new Float32Array([1, 2.5, 2, 4]);
    const s = finalize(accumulateValues(base, att, 4, newAccum()));
    expect(s).toMatchObject({ numel: 4, l1: 1.5, max_abs: 1, mean_abs: 0.375, frac_changed: 0.5, changed: 2, nan: 0, inf: 0 });
    expect(s.l2).toBeCloseTo(Math.sqrt(1.25), 15);
    expect(s.rel_l2).toBeCloseTo(Math.sqrt(1.25) / Math.sqrt(30), 15);
  });

  it('the fused BF16 kernel agrees with the reference loop on even and odd lengths, with |Δ| output', () => {
    for (const n of [1, 2, 7, 1000, 4097]) {
      const { a, b, af, bf } = bf16Pair(n, n);
      const absFast = new Float32Array(n);
      const absRef = new Float32Array(n);
      const fast = accumulateBf16(a, b, n, newAccum(), absFast);
      const ref = accumulateReference(af, bf, n, newAccum(), absRef);
      expect(fast.changed).toBe(ref.changed);
      expect(fast.maxAbs).toBe(ref.maxAbs);
      expect(fast.l1).toBeCloseTo(ref.l1, 12);
      expect(fast.l2sq).toBeCloseTo(ref.l2sq, 12);
      expect(fast.w2sq).toBeCloseTo(ref.w2sq, 12);
      expect(absFast).toEqual(absRef);
    }
  });

  it('merging the sums of element ranges gives the statistics of the whole tensor', () => {
    const { a, b } = bf16Pair(10000, 3);
    const whole = finalize(accumulateBf16(a, b, 10000, newAccum()));
    const parts = newAccum();
    for (let s = 0; s < 10000; s += 2048) {
      const e = Math.min(10000, s + 2048);
      mergeAccum(parts, accumulateBf16(a.subarray(s, e), b.subarray(s, e), e - s, newAccum()));
    }
    const merged = finalize(parts);
    expect(merged.changed).toBe(whole.changed);
    expect(merged.max_abs).toBe(whole.max_abs);
    expect(merged.l2 / whole.l2 - 1).toBeLessThan(1e-12);
  });

  it('counts NaN and Inf weights and leaves them out of the other statistics', () => {
    const base = new Float32Array([1, NaN, 3, Infinity, 5, -Infinity]);
    const att = new Float32Array([2, 1, NaN, Infinity, 5, 0]);
    const s = finalize(accumulateValues(base, att, 6, newAccum()));
    expect(s).toMatchObject({ numel: 6, nan: 2, inf: 2, l1: 1, max_abs: 1, changed: 1, mean_abs: 0.5, frac_changed: 0.5 });
    expect(Number.isFinite(s.l2) && Number.isFinite(s.rel_l2)).toBe(true);
    const bf = finalize(accumulateBf16(encodeBf16(base), encodeBf16(att), 6, newAccum()));
    expect(bf).toEqual(s);
  });

  it('reports rel_l2 0 for an unchanged zero tensor and Infinity when a zero tensor changed', () => {
    expect(finalize(accumulateValues(new Float32Array(3), new Float32Array(3), 3, newAccum())).rel_l2).toBe(0);
    expect(finalize(accumulateValues(new Float32Array(3), new Float32Array([0, 1, 0]), 3, newAccum())).rel_l2).toBe(Infinity);
  });
});
