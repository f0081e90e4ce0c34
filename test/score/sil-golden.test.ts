/**
 * The sil score against PyTorch: |Δ| ⊙ |g| computed here in float32 from the fixtures' checkpoints
 * and golden gradients, against the same product in float64 by torch (test/goldens/torch-ops.json).
 * Both factors are float32 values, so the float64 product is exact and the float32 one is its
 * rounding: every value within 2⁻²⁴ relative, and the k-th largest score is the rounding of torch's.
 */
import * as path from 'node:path';
import { Checkpoint } from '../../src/io/checkpoint';
import { SafetensorsFile } from '../../src/io/safetensors';
import { participation } from '../../src/score/scope';
import { deltaOf, silScore } from '../../src/score/sil';
import { FIXTURE_NAMES, HF_TINY } from '../helpers/fixtures';
import { type TopK, torchOps } from '../helpers/torch-goldens';

const golden = torchOps();
const ULP = 2 ** -24;

/** The k-th largest value, and how many are above it and equal to it. */
function kth(values: Float32Array, k: number): { threshold: number; gt: number; eq: number } {
  const sorted = Float32Array.from(values).sort().reverse();
  const threshold = sorted[k - 1];
  let gt = 0;
  let eq = 0;
  for (const v of values) {
    if (v > threshold) gt++;
    else if (v === threshold) eq++;
  }
  return { threshold, gt, eq };
}

describe.each(FIXTURE_NAMES)('sil score on %s against torch float64', (fx) => {
  const dir = path.join(HF_TINY, fx);
  const want = golden.fixtures[fx].sil;
  const scores = new Map<string, Float32Array>();
  let architecture: string | null = null;

  beforeAll(() => {
    const base = Checkpoint.open(path.join(dir, 'base'));
    const attacked = Checkpoint.open(path.join(dir, 'attacked'));
    const g = SafetensorsFile.open(path.join(dir, 'golden.safetensors'));
    try {
      architecture = base.config?.architectures?.[0] ?? null;
      for (const name of base.names()) scores.set(name, silScore(deltaOf(base.readF32(name), attacked.readF32(name)), g.readF32(`grad/${name}`)));
    } finally {
      base.close();
      attacked.close();
      g.close();
    }
  });

  it('covers the same tensors as the golden', () => {
    expect([...scores.keys()].sort()).toEqual(Object.keys(want.tensors).sort());
  });

  it('every sampled value is torch’s rounded to float32, and each tensor’s sum and maximum agree', () => {
    const bad: string[] = [];
    for (const [name, s] of scores) {
      const w = want.tensors[name];
      expect(s.length).toBe(w.numel);
      let worst = 0;
      w.every_stride.forEach((v, j) => {
        worst = Math.max(worst, Math.abs(s[j * w.stride] - v) / Math.max(v, 1e-300));
      });
      let sum = 0;
      let max = 0;
      for (const v of s) {
        sum += v;
        max = Math.max(max, v);
      }
      const sumErr = Math.abs(sum - w.sum) / Math.max(w.sum, 1e-300);
      if (worst > ULP || sumErr > ULP || max !== Math.fround(w.max) || s[w.argmax] !== Math.fround(w.max)) {
        bad.push(`${name}: worst sampled rel err ${worst.toExponential(2)}, sum rel err ${sumErr.toExponential(2)}, max ${max} vs ${w.max}`);
      }
    }
    expect(bad).toEqual([]);
  });

  const checkTopK = (label: string, values: Float32Array, topk: TopK[]) => {
    for (const t of topk) {
      expect({ label, frac: t.frac, n: values.length }).toEqual({ label, frac: t.frac, n: t.n });
      const got = kth(values, t.k);
      expect({ label, frac: t.frac, threshold: got.threshold }).toEqual({ label, frac: t.frac, threshold: Math.fround(t.threshold) });
      // Rounding to float32 can only merge values, never reorder them.
      expect(got.gt).toBeLessThanOrEqual(t.count_gt);
      expect(got.gt + got.eq).toBeGreaterThanOrEqual(t.count_gt + t.count_eq);
    }
  };

  it('the k-th largest score over all tensors, and over the linear scope, is torch’s rounded to float32', () => {
    const all: Float32Array[] = [];
    const linear: Float32Array[] = [];
    for (const name of [...scores.keys()].sort()) {
      all.push(scores.get(name)!);
      if (participation(architecture, name, 'linear') === 'score') linear.push(scores.get(name)!);
    }
    const cat = (xs: Float32Array[]) => {
      const out = new Float32Array(xs.reduce((a, x) => a + x.length, 0));
      let o = 0;
      for (const x of xs) {
        out.set(x, o);
        o += x.length;
      }
      return out;
    };
    checkTopK('all', cat(all), want.topk.all);
    checkTopK('linear', cat(linear), want.topk.linear);
  });
});
