/**
 * AdamW against PyTorch: `adamwStep` over the steps, gradients and learning rates that
 * `torch.optim.AdamW` took in test/goldens/torch-ops.json, starting from fixture weights. torch
 * evaluates the update in float32 and sil in float64 before storing float32, so they differ by a
 * few float32 roundings (entries near zero differ relatively more): compared as relative L2 over
 * the tensor, of the parameters and of their movement since the start (which a wrong bias correction,
 * decay or ε would change by far more than 1e-4).
 */
import { adamwState, adamwStep } from '../../src/train/adamw';
import { torchOps } from '../helpers/torch-goldens';

const cases = torchOps().adamw;

/** ‖got − want‖ / ‖want‖, both taken relative to `from` when given. */
function relL2(got: ArrayLike<number>, want: ArrayLike<number>, from?: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    const w = want[i] - (from ? from[i] : 0);
    num += (got[i] - want[i]) ** 2;
    den += w * w;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-300);
}

describe('adamwStep against torch.optim.AdamW', () => {
  it('has cases with several steps and learning rates', () => {
    expect(cases.length).toBeGreaterThanOrEqual(2);
    for (const c of cases) expect(c.lrs.length).toBeGreaterThanOrEqual(5);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s: the parameters after every step, and the final moments, are torch’s', (_name, c) => {
    const param = Float32Array.from(c.param);
    const state = adamwState(param.length);
    const bad: string[] = [];
    c.lrs.forEach((lr, t) => {
      adamwStep(param, Float32Array.from(c.grads[t]), state, t + 1, lr, c.options);
      const p = relL2(param, c.after[t]);
      const m = relL2(param, c.after[t], c.param);
      if (!(p < 1e-6 && m < 1e-4)) bad.push(`step ${t + 1} (lr ${lr}): parameters rel L2 ${p.toExponential(2)}, movement rel L2 ${m.toExponential(2)}`);
    });
    expect(bad).toEqual([]);
    expect(relL2(state.m, c.m)).toBeLessThan(1e-6);
    expect(relL2(state.v, c.v)).toBeLessThan(1e-6);
  });
});
