/**
 * The training loop of `sil finetune`: supervised fine-tuning on response tokens with AdamW.
 *
 * Each epoch visits the examples in a seeded random order; an optimizer step takes
 * batchSize × gradAccum examples (the last step of an epoch may take fewer), as gradAccum
 * micro-batches of batchSize. The step's loss is the mean token cross-entropy over every labelled
 * position of the step (see grads.ts). Then, in order: frozen entries' gradients are set to zero,
 * the global gradient norm is clipped to `maxGradNorm` (0 = no clipping), and AdamW updates every
 * parameter with the scheduled learning rate (schedule.ts), skipping frozen entries (adamw.ts).
 * Everything is seeded and summed in a fixed order, so the same inputs give the same weights.
 */
import { SilError } from '../errors';
import type { Batch } from '../model/batch';
import { collate, type Sequence } from '../tokenizer/collate';
import { type AdamWOptions, adamwState, type AdamWState, adamwStep, globalNorm, maskGrad } from './adamw';
import type { GradEngine } from './grads';
import type { ParamStore } from './params';
import { mulberry32, permutation } from './rng';
import { learningRate, type ScheduleName } from './schedule';

export interface TrainOptions {
  lr: number;
  epochs: number;
  warmup: number;
  schedule: ScheduleName;
  gradAccum: number;
  batchSize: number;
  seed: number;
  adamw: AdamWOptions;
  /** clip the global gradient norm to this (0 = off) */
  maxGradNorm: number;
  /** stop after this many optimizer steps (the schedule spans them) */
  maxSteps?: number;
  /** parameter name → 0/1 per entry, 1 = frozen */
  frozen?: Map<string, Uint8Array>;
  padId: number;
}

export interface StepInfo {
  step: number;
  steps: number;
  epoch: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokens: number;
  seconds: number;
}

/** Labelled positions of a sequence after the causal shift (labels[t] for t ≥ 1). */
export function labelledPositions(e: Sequence): number {
  let c = 0;
  for (let t = 1; t < e.labels.length; t++) if (e.labels[t] !== -100) c++;
  return c;
}

/** Number of optimizer steps for `n` examples. */
export function totalSteps(n: number, o: Pick<TrainOptions, 'epochs' | 'batchSize' | 'gradAccum' | 'maxSteps'>): number {
  const perEpoch = Math.ceil(n / (o.batchSize * o.gradAccum));
  const all = perEpoch * o.epochs;
  return o.maxSteps !== undefined ? Math.min(all, o.maxSteps) : all;
}

/** Trains `params` in place; returns the per-step log. */
export async function train(params: ParamStore, examples: readonly Sequence[], engine: GradEngine, o: TrainOptions, onStep?: (s: StepInfo) => void): Promise<StepInfo[]> {
  if (examples.length === 0) throw new SilError('INVALID_DATA', 'no training examples');
  for (const [k, v] of [
    ['lr', o.lr],
    ['epochs', o.epochs],
    ['batch size', o.batchSize],
    ['gradient accumulation', o.gradAccum],
  ] as const) {
    if (!(v > 0)) throw new SilError('INVALID_ARGUMENT', `${k} must be positive, found ${v}`);
  }
  const names = params.names();
  if (o.frozen) {
    for (const [n, m] of o.frozen) {
      if (!params.data.has(n)) throw new SilError('MASK_MISMATCH', 'the freeze mask names a tensor the model does not train', { tensor: n });
      if (m.length !== params.readF32(n).length) throw new SilError('MASK_MISMATCH', `freeze mask has ${m.length} entries, the parameter ${params.readF32(n).length}`, { tensor: n });
    }
  }
  const state = new Map<string, AdamWState>(names.map((n) => [n, adamwState(params.readF32(n).length)]));
  const steps = totalSteps(examples.length, o);
  const perStep = o.batchSize * o.gradAccum;
  const rng = mulberry32(o.seed);
  const log: StepInfo[] = [];
  let step = 0;
  for (let epoch = 0; epoch < o.epochs && step < steps; epoch++) {
    const order = permutation(examples.length, rng);
    for (let lo = 0; lo < order.length && step < steps; lo += perStep) {
      const t0 = Date.now();
      const chosen = order.slice(lo, lo + perStep).map((i) => examples[i]);
      const denominator = chosen.reduce((a, e) => a + labelledPositions(e), 0);
      if (denominator === 0) throw new SilError('INVALID_DATA', 'a training step has no labelled response token (are the responses empty or cut off?)');
      const micro: Batch[] = [];
      for (let m = 0; m < chosen.length; m += o.batchSize) micro.push(collate(chosen.slice(m, m + o.batchSize), o.padId));
      const { loss, grads } = await engine.step(params, micro, denominator);
      if (o.frozen) for (const [n, m] of o.frozen) maskGrad(grads.get(n)!, m);
      const gradNorm = globalNorm(names.map((n) => grads.get(n)!));
      if (o.maxGradNorm > 0 && gradNorm > o.maxGradNorm) {
        const s = o.maxGradNorm / (gradNorm + 1e-6);
        for (const n of names) {
          const g = grads.get(n)!;
          for (let i = 0; i < g.length; i++) g[i] *= s;
        }
      }
      const lr = learningRate(o.schedule, o.lr, step, o.warmup, steps);
      for (const n of names) adamwStep(params.readF32(n), grads.get(n)!, state.get(n)!, step + 1, lr, o.adamw, o.frozen?.get(n));
      step++;
      const info: StepInfo = {
        step,
        steps,
        epoch,
        loss,
        lr,
        gradNorm,
        tokens: micro.reduce((a, b) => a + b.input_ids.length * b.input_ids[0].length, 0),
        seconds: (Date.now() - t0) / 1000,
      };
      log.push(info);
      onStep?.(info);
    }
  }
  return log;
}
