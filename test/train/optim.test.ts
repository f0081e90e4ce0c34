import { adamwState, adamwStep, globalNorm, maskGrad } from '../../src/train/adamw';
import { labelledPositions, totalSteps } from '../../src/train/loop';
import { mulberry32, permutation } from '../../src/train/rng';
import { learningRate } from '../../src/train/schedule';

describe('AdamW', () => {
  it('matches the bias-corrected update with decoupled weight decay written out by hand', () => {
    const p = new Float32Array([1, -2]);
    const g = new Float32Array([0.5, -0.25]);
    const s = adamwState(2);
    const o = { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 };
    adamwStep(p, g, s, 1, 0.01, o);
    // step 1: m̂ = g, v̂ = g², so the Adam step is lr·g/(|g|+ε) ≈ lr·sign(g)
    expect(p[0]).toBeCloseTo(1 * (1 - 0.001) - 0.01, 6);
    expect(p[1]).toBeCloseTo(-2 * (1 - 0.001) + 0.01, 6);
    adamwStep(p, g, s, 2, 0.01, o);
    const m = 0.9 * 0.05 + 0.1 * 0.5;
    const v = 0.99 * 0.01 * 0.25 + 0.01 * 0.25;
    const expected = (1 * 0.999 - 0.01) * 0.999 - (0.01 * (m / (1 - 0.81))) / (Math.sqrt(v / (1 - 0.9801)) + 1e-8);
    expect(p[0]).toBeCloseTo(expected, 6);
  });

  it('leaves frozen entries and their moments untouched, even with weight decay', () => {
    const p = new Float32Array([0.3, 0.7, -1.1]);
    const before = Float32Array.from(p);
    const s = adamwState(3);
    const frozen = new Uint8Array([0, 1, 1]);
    for (let t = 1; t <= 3; t++) adamwStep(p, new Float32Array([1, 1, 1]), s, t, 0.1, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.5 }, frozen);
    expect(p[0]).not.toBe(before[0]);
    expect([p[1], p[2]]).toEqual([before[1], before[2]]);
    expect([s.m[1], s.v[2]]).toEqual([0, 0]);
  });

  it('masks gradients and measures the global norm over several tensors', () => {
    const g = new Float32Array([3, 4, 12]);
    maskGrad(g, new Uint8Array([0, 0, 1]));
    expect(Array.from(g)).toEqual([3, 4, 0]);
    expect(globalNorm([g, new Float32Array([0])])).toBe(5);
  });
});

describe('learning-rate schedules', () => {
  it('warms up linearly from 0 and then follows a half cosine down to 0', () => {
    expect(learningRate('cosine', 1, 0, 10, 110)).toBe(0);
    expect(learningRate('cosine', 1, 5, 10, 110)).toBe(0.5);
    expect(learningRate('cosine', 1, 10, 10, 110)).toBe(1);
    expect(learningRate('cosine', 1, 60, 10, 110)).toBeCloseTo(0.5, 12);
    expect(learningRate('cosine', 1, 110, 10, 110)).toBeCloseTo(0, 12);
    expect(learningRate('linear', 2, 60, 10, 110)).toBe(1);
    expect(learningRate('constant', 2, 60, 10, 110)).toBe(2);
  });
});

describe('training bookkeeping', () => {
  it('counts optimizer steps per epoch with a partial last step', () => {
    expect(totalSteps(100, { epochs: 1, batchSize: 4, gradAccum: 4 })).toBe(7);
    expect(totalSteps(100, { epochs: 3, batchSize: 4, gradAccum: 4, maxSteps: 10 })).toBe(10);
  });

  it('counts labelled positions after the causal shift', () => {
    expect(labelledPositions({ input_ids: [1, 2, 3, 4], attention_mask: [1, 1, 1, 1], labels: [-100, -100, 3, 4] })).toBe(2);
  });

  it('draws the same permutation from the same seed', () => {
    expect(permutation(20, mulberry32(5))).toEqual(permutation(20, mulberry32(5)));
    expect(permutation(20, mulberry32(5)).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });
});
