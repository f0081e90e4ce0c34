/**
 * Learning-rate schedules, as `transformers`' `get_*_schedule_with_warmup` (step s counts optimizer
 * steps from 0, W warm-up steps, S steps in all):
 *   warm-up (s < W):  lr · s / max(1, W)
 *   cosine:           lr · ½ (1 + cos(π · (s − W) / max(1, S − W)))
 *   linear:           lr · max(0, (S − s) / max(1, S − W))
 *   constant:         lr
 * As in transformers, the first step of a warm-up has learning rate 0.
 */
import { SilError } from '../errors';

export const SCHEDULES = ['cosine', 'linear', 'constant'] as const;
export type ScheduleName = (typeof SCHEDULES)[number];

export function parseSchedule(s: string): ScheduleName {
  if (!(SCHEDULES as readonly string[]).includes(s)) throw new SilError('INVALID_ARGUMENT', `unknown schedule "${s}"; choose one of ${SCHEDULES.join(', ')}`);
  return s as ScheduleName;
}

export function learningRate(schedule: ScheduleName, lr: number, step: number, warmup: number, total: number): number {
  if (step < warmup) return (lr * step) / Math.max(1, warmup);
  if (schedule === 'constant') return lr;
  const span = Math.max(1, total - warmup);
  if (schedule === 'linear') return lr * Math.max(0, (total - step) / span);
  const progress = Math.min(1, (step - warmup) / span);
  return lr * 0.5 * (1 + Math.cos(Math.PI * progress));
}

/**
 * A warning when the schedule never leaves its linear warm-up (W ≥ S): the learning rate then
 * peaks at lr · (S − 1) / W on the last step instead of reaching lr, and a short run may not train
 * at all. Null when the warm-up ends within the run.
 */
export function warmupWarning(lr: number, warmup: number, total: number): string | null {
  if (warmup <= 0 || warmup < total) return null;
  const peak = (lr * Math.max(0, total - 1)) / Math.max(1, warmup);
  return `the learning rate never leaves warm-up: --warmup ${warmup} ≥ ${total} optimizer step(s), so it peaks at ${peak.toExponential(2)} instead of --lr ${lr.toExponential(2)}; use fewer warm-up steps, more epochs or a smaller --batch-size × --grad-accum`;
}
