import { mulberry32 } from '../../src/train/rng';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FIXTURE_NAMES, HF_TINY } from '../helpers/fixtures';
import { Checkpoint } from '../../src/io/checkpoint';
import { GlobalTopK, MaskEmitter, referenceTopK, streamThreshold, topKMasks } from '../../src/select/topk';
import { kOf } from '../../src/select/bits';
import { rowTopKMask, tensorTopKMask } from '../../src/select/local';
import { scoredTensors, totalOf, weightDiffChunks } from '../../src/score/pair';

/** Deterministic pseudo-random values in [0, 1) (mulberry32). */
const prng = (seed: number): (() => number) => mulberry32(seed).uniform;

/** Tensors whose values come from a few levels (many ties) mixed with continuous values and zeros. */
function tiedTensors(seed: number, sizes: number[]): Float32Array[] {
  const r = prng(seed);
  const levels = [0, 1e-8, 0.25, 0.5, 0.5000001, 1, 3];
  return sizes.map((n) =>
    Float32Array.from({ length: n }, () => {
      const u = r();
      return u < 0.6 ? levels[Math.floor(r() * levels.length)] : u < 0.7 ? 0 : r() * 4;
    }),
  );
}

describe('global top-k selection', () => {
  it('agrees with the sort-based reference on random data with many ties, for every k', () => {
    for (const seed of [1, 2, 3]) {
      const ts = tiedTensors(seed, [37, 500, 1, 0, 1200, 64]);
      const n = ts.reduce((a, t) => a + t.length, 0);
      for (const k of [0, 1, 2, 17, 300, 901, n - 1, n]) {
        const fast = topKMasks(ts, k);
        const ref = referenceTopK(ts, k);
        expect(fast.threshold).toEqual(ref.threshold);
        expect(fast.masks).toEqual(ref.masks);
        expect(fast.masks.reduce((a, m) => a + m.reduce((x, y) => x + y, 0), 0)).toBe(k);
      }
    }
  });

  it('breaks ties at the threshold by the lowest global index, tensor order first', () => {
    const ts = [new Float32Array([1, 5, 1]), new Float32Array([1, 9, 1])];
    const { masks, threshold } = topKMasks(ts, 4);
    expect(threshold).toMatchObject({ value: 1, countGt: 2, countEq: 4, takeEq: 2 });
    expect([...masks[0]]).toEqual([1, 1, 1]);
    expect([...masks[1]]).toEqual([0, 1, 0]);
  });

  it('gives the same threshold and mask however the stream is cut into chunks', () => {
    const [t] = tiedTensors(9, [5000]);
    const whole = topKMasks([t], 1234);
    const pieces = [t.subarray(0, 1), t.subarray(1, 999), t.subarray(999, 1000), t.subarray(1000)];
    const { threshold } = streamThreshold(() => pieces, 1234);
    expect(threshold).toEqual(whole.threshold);
    const em = new MaskEmitter(threshold);
    const mask = new Uint8Array(5000);
    let at = 0;
    for (const p of pieces) {
      mask.set(em.emit(p), at);
      at += p.length;
    }
    expect(mask).toEqual(whole.masks[0]);
  });

  it('needs one pass for k = 0 and two passes otherwise', () => {
    const ts = tiedTensors(4, [100]);
    expect(streamThreshold(() => ts, 0).passes).toBe(1);
    expect(streamThreshold(() => ts, 10).passes).toBe(2);
  });

  it('reads −0 as 0 and rejects NaN, negative scores and k larger than N', () => {
    expect(topKMasks([new Float32Array([-0, 0, 2])], 2).masks[0]).toEqual(new Uint8Array([1, 0, 1]));
    expect(() => topKMasks([new Float32Array([1, NaN])], 1)).toThrow(/not a number ≥ 0/);
    expect(() => topKMasks([new Float32Array([1, -2])], 1)).toThrow(/not a number ≥ 0/);
    expect(() => topKMasks([new Float32Array([1, 2])], 3)).toThrow(/exceeds/);
    expect(() => new GlobalTopK(1.5)).toThrow(/non-negative integer/);
  });

  it('takes k = round(frac·N) and refuses fractions outside (0, 1]', () => {
    expect(kOf(0.2, 106816)).toBe(21363);
    expect(kOf(1, 7)).toBe(7);
    expect(() => kOf(0, 10)).toThrow(/outside \(0, 1\]/);
    expect(() => kOf(1.01, 10)).toThrow(/outside \(0, 1\]/);
  });
});

describe('per-tensor and per-row selection', () => {
  it('selects round(frac·numel) per tensor with the same rule as the reference', () => {
    const [t] = tiedTensors(5, [999]);
    expect(tensorTopKMask(t, 0.1)).toEqual(referenceTopK([t], 100).masks[0]);
  });

  it('selects round(frac·cols) in every row, ties to the lowest column', () => {
    const [t] = tiedTensors(6, [40 * 25]);
    const m = rowTopKMask(t, 25, 0.2);
    for (let r = 0; r < 40; r++) {
      const row = t.subarray(r * 25, r * 25 + 25);
      expect(m.subarray(r * 25, r * 25 + 25)).toEqual(referenceTopK([row], 5).masks[0]);
    }
  });
});

describe('oracle: |Δ| top-k over every tensor of the fixtures, biases included', () => {
  it.each(FIXTURE_NAMES)('%s: k, threshold, count_gt and count_eq equal golden.json delta_topk', (fx) => {
    const golden = JSON.parse(fs.readFileSync(path.join(HF_TINY, fx, 'golden.json'), 'utf8')) as {
      delta_topk: Record<string, { k: number; threshold: number; count_gt: number; count_eq: number }>;
    };
    const base = Checkpoint.open(path.join(HF_TINY, fx, 'base'));
    const attacked = Checkpoint.open(path.join(HF_TINY, fx, 'attacked'));
    try {
      const tensors = scoredTensors(base, 'all', 'score');
      const n = totalOf(tensors);
      for (const [frac, g] of Object.entries(golden.delta_topk)) {
        const k = kOf(Number(frac), n);
        const { threshold } = streamThreshold(() => [...weightDiffChunks(base, attacked, tensors, 4096)].map((c) => c.scores), k);
        expect({ k, threshold: threshold.value, count_gt: threshold.countGt, count_eq: threshold.countEq }).toEqual(g);
      }
    } finally {
      base.close();
      attacked.close();
    }
  });
});
