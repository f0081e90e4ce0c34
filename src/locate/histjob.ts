/**
 * One histogram job of a parallel global selection (see histpool.ts): the scores of elements
 * [start, end) of one tensor, computed from the inputs named in `spec` (paths, so a worker thread
 * can open them itself), counted into pass 1's or pass 2's 65,536-bin histogram (select/topk.ts).
 */
import { Checkpoint } from '../io/checkpoint';
import { CHUNK, type ScoredTensor } from '../score/pair';
import { histLow, histTop } from '../select/topk';
import { GradFile } from './gradfile';
import { type Reduce, type ScoreInputs, type ScoreName, scoreRange } from './scores';

/** What a score needs, by path. */
export interface ScoreSpec {
  score: ScoreName;
  reduce: Reduce;
  base: string;
  attacked: string;
  grads: string | null;
  seed: number;
  chunk?: number;
  allowNonfinite?: boolean;
}

export interface HistJob {
  spec: ScoreSpec;
  tensor: ScoredTensor;
  start: number;
  end: number;
  /** 1, 2: that pass's histogram; 0: the scores themselves */
  pass: 0 | 1 | 2;
  /** pass 2's boundary bin */
  boundary: number;
}

/** Opens the inputs of `spec` (closed by the returned `close`). */
export function openSpec(spec: ScoreSpec): { inputs: ScoreInputs; close(): void } {
  const base = Checkpoint.open(spec.base);
  const opened: Array<{ close(): void }> = [base];
  try {
    const attacked = Checkpoint.open(spec.attacked);
    opened.push(attacked);
    const grads = spec.grads ? GradFile.open(spec.grads) : undefined;
    if (grads) opened.push(grads);
    return {
      inputs: { score: spec.score, reduce: spec.reduce, base, attacked, grads, seed: spec.seed, chunk: spec.chunk, allowNonfinite: spec.allowNonfinite },
      close: () => opened.forEach((o) => o.close()),
    };
  } catch (e) {
    opened.forEach((o) => o.close());
    throw e;
  }
}

/** The job's histogram (counts per bin), or for pass 0 its scores. */
export function runHistJob(job: HistJob, inputs: ScoreInputs): Uint32Array | Float32Array {
  if (job.pass === 0) return scoreRange(inputs, job.tensor, job.start, job.end);
  const h = new Uint32Array(65536);
  const chunk = inputs.chunk ?? CHUNK;
  for (let s = job.start; s < job.end; s += chunk) {
    const e = Math.min(job.end, s + chunk);
    const scores = scoreRange(inputs, job.tensor, s, e);
    const at = (i: number) => `element ${s + i} of ${job.tensor.name}`;
    if (job.pass === 1) histTop(scores, h, at);
    else histLow(scores, job.boundary, h, at);
  }
  return h;
}
