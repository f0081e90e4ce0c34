import { topkThreshold, topkThresholdSorted } from '../../src/delta/topk';

describe('exact top-k threshold', () => {
  it('finds the k-th largest magnitude and counts values above and tied with it', async () => {
    const v = new Float64Array([0.5, -3, 2, 2, 2, 1, 0, -2, 7]);
    const r = await topkThreshold((visit) => visit(v), 3);
    expect(r).toEqual({ k: 3, threshold: 2, count_gt: 2, count_eq: 4, n: 9 });
  });

  it('agrees with sorting on many chunks of quantized values full of ties', async () => {
    let s = 12345;
    const next = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const chunks = Array.from({ length: 7 }, (_, i) => Float32Array.from({ length: 1000 + i * 37 }, () => Math.round((next() - 0.5) * 512) / 4096));
    const all = Float64Array.from(chunks.flatMap((c) => Array.from(c)));
    for (const k of [1, 10, 500, 3000, all.length]) {
      const r = await topkThreshold((visit) => chunks.forEach(visit), k);
      expect(r).toEqual(topkThresholdSorted(all, k));
    }
  });

  it('skips NaN and rejects k beyond the number of values', async () => {
    const v = [NaN, 1, 2];
    expect((await topkThreshold((visit) => visit(v), 2)).threshold).toBe(1);
    await expect(topkThreshold((visit) => visit(v), 3)).rejects.toThrow(RangeError);
  });
});
