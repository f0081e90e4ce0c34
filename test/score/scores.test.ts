import * as fs from 'node:fs';
import * as path from 'node:path';
import { FIXTURE_NAMES, HF_TINY } from '../helpers/fixtures';
import { Checkpoint } from '../../src/io/checkpoint';
import { SafetensorsFile } from '../../src/io/safetensors';
import { MeanAbsSilAccumulator, silScore } from '../../src/score/sil';
import { AbsGradAccumulator, snipScore } from '../../src/score/snip';
import { InputNormAccumulator, wandaScore } from '../../src/score/wanda';
import { weightDiffScore } from '../../src/score/weightdiff';
import { randomScore } from '../../src/score/random';
import { setDifferenceMask } from '../../src/score/setdiff';
import { participation } from '../../src/score/scope';

const f32 = (xs: number[]) => Float32Array.from(xs);

describe('elementwise scores', () => {
  it('sil score multiplies |Δ| by the absolute summed gradient', () => {
    expect([...silScore(f32([0.5, -2, 0]), f32([-4, -0.25, 7]))]).toEqual([2, 0.5, 0]);
  });

  it('mean-abs sil averages |Δ ⊙ ∇L(x)| over examples, so opposite gradients do not cancel', () => {
    const delta = f32([1, -2]);
    const acc = new MeanAbsSilAccumulator(delta);
    acc.add(f32([3, 1]));
    acc.add(f32([-3, 1]));
    expect([...acc.result()]).toEqual([3, 2]);
    expect([...silScore(delta, f32([0, 2]))]).toEqual([0, 4]);
    expect(() => new MeanAbsSilAccumulator(delta).result()).toThrow(/no examples/);
  });

  it('snip score multiplies |θ| by the summed absolute per-example gradients', () => {
    const acc = new AbsGradAccumulator(2);
    acc.add(f32([1, -2]));
    acc.add(f32([-1, 4]));
    expect([...acc.sum()]).toEqual([0, 2]);
    expect([...acc.absSum()]).toEqual([2, 6]);
    expect([...snipScore(f32([-0.5, 2]), acc.absSum())]).toEqual([1, 12]);
  });

  it('wanda score multiplies |W_ij| by the L2 norm of input feature j over tokens, for any row-major chunk', () => {
    const norms = new InputNormAccumulator(3);
    norms.add(f32([3, 0, 1, 4, 0, 0])); // two tokens
    norms.add(f32([0, 2, 0]));
    expect(norms.count).toBe(3);
    const n = norms.norms();
    expect([...n]).toEqual([5, 2, 1]);
    const w = f32([1, -1, 2, -2, 0.5, 1]);
    const whole = wandaScore(w, n);
    expect([...whole]).toEqual([5, 2, 2, 10, 1, 1]);
    expect([...wandaScore(w.subarray(2, 5), n, 2)]).toEqual([...whole.subarray(2, 5)]);
  });

  it('weightdiff score is |θattacked − θpre|', () => {
    expect([...weightDiffScore(f32([1, 2, 3]), f32([1.5, 0, 3]))]).toEqual([0.5, 2, 0]);
  });

  it('random score is a deterministic function of seed, tensor name and element index, so chunks can be computed apart', () => {
    const whole = randomScore(7, 'model.layers.0.mlp.up_proj.weight', 0, new Float32Array(10000));
    const part = randomScore(7, 'model.layers.0.mlp.up_proj.weight', 4321, new Float32Array(100));
    expect(part).toEqual(whole.subarray(4321, 4421));
    expect(randomScore(8, 'model.layers.0.mlp.up_proj.weight', 0, new Float32Array(10000))).not.toEqual(whole);
    expect(randomScore(7, 'model.layers.1.mlp.up_proj.weight', 0, new Float32Array(10000))).not.toEqual(whole);
    const mean = whole.reduce((a, b) => a + b, 0) / whole.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
    expect(Math.min(...whole)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...whole)).toBeLessThan(1);
  });

  it('set difference keeps the top-q% of the safety score that is not in the top-p% of the utility score', () => {
    const safety = f32([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    const utility = f32([0, 9, 0, 8, 0, 0, 0, 0, 0, 0]);
    expect([...setDifferenceMask(safety, utility, 0.4, 0.2)]).toEqual([1, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
  });
});

describe('scope', () => {
  it('linear scope covers projection matrices, counts their biases with score 0, and leaves out embeddings, norms and head', () => {
    const a = 'Qwen2ForCausalLM';
    expect(participation(a, 'model.layers.1.mlp.down_proj.weight', 'linear')).toBe('score');
    expect(participation(a, 'model.layers.1.self_attn.q_proj.bias', 'linear')).toBe('zero');
    expect(participation(a, 'model.layers.1.self_attn.q_proj.bias', 'all', 'score')).toBe('score');
    expect(participation(a, 'model.embed_tokens.weight', 'linear')).toBe('out');
    expect(participation(a, 'model.norm.weight', 'linear')).toBe('out');
    expect(participation(a, 'model.norm.weight', 'all')).toBe('score');
    expect(participation(a, 'lm_head.weight', 'linear')).toBe('out');
  });
});

describe('oracle: fixture goldens', () => {
  // The sil score's PyTorch golden is test/score/sil-golden.test.ts.
  it.each(FIXTURE_NAMES)('%s: snip equals golden snip/<name> and snip_sum', (fx) => {
    const dir = path.join(HF_TINY, fx);
    const golden = JSON.parse(fs.readFileSync(path.join(dir, 'golden.json'), 'utf8')) as { tensors: Record<string, { snip_sum: number }> };
    const g = SafetensorsFile.open(path.join(dir, 'golden.safetensors'));
    const base = Checkpoint.open(path.join(dir, 'base'));
    try {
      for (const name of base.names()) {
        const theta = base.readF32(name);
        const grad = g.readF32(`grad/${name}`);
        const acc = new AbsGradAccumulator(grad.length);
        acc.add(grad);
        const snip = snipScore(theta, acc.absSum());
        const goldSnip = g.readF32(`snip/${name}`);
        let maxDiff = 0;
        let sum = 0;
        for (let i = 0; i < snip.length; i++) {
          maxDiff = Math.max(maxDiff, Math.abs(snip[i] - goldSnip[i]) / Math.max(Math.abs(goldSnip[i]), 1e-30));
          sum += snip[i];
        }
        if (maxDiff > 1.2e-7) throw new Error(`snip ${name}: maxrel ${maxDiff}`);
        expect(sum).toBeCloseTo(golden.tensors[name].snip_sum, 5);
      }
    } finally {
      g.close();
      base.close();
    }
  });
});
