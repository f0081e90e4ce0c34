/**
 * Gradients of one optimizer step: the examples of the step are cut into micro-batches, each
 * micro-batch's summed token loss is divided by the number of labelled positions of the WHOLE step
 * (so the micro-batch gradients add up to the gradient of the step's mean token loss, however the
 * step is split), and the gradients are summed in a fixed order.
 *
 * Two engines with the same contract:
 * - `LocalGrads`: the current TF.js backend in this thread.
 * - `WorkerGrads`: data-parallel worker threads (wasm is single-threaded in Node), each with its
 *   own backend; the step's micro-batches are dealt out in contiguous runs, the current weights
 *   are sent along, and the workers' sums are added in worker order. Needs the compiled
 *   dist/train/worker.js (`npm run build`).
 * Both are deterministic; results of different worker counts differ only by float summation order.
 */
import { isSilError, SilError } from '../errors';
import { WorkerPool } from '../workers/pool';
import type { BackendName } from '../model/backend';
import type { Batch } from '../model/batch';
import type { ModelConfig } from '../model/config';
import { CausalLM } from '../model/model';
import { type ParamStore } from './params';

export interface StepGrads {
  /** mean token loss of the step */
  loss: number;
  grads: Map<string, Float32Array>;
}

export interface GradEngine {
  readonly workers: number;
  step(params: ParamStore, microBatches: Batch[], denominator: number): Promise<StepGrads>;
  close(): Promise<void>;
}

function addInto(acc: Map<string, Float32Array>, names: string[], grads: Float32Array[]): void {
  names.forEach((n, k) => {
    const a = acc.get(n);
    if (!a) acc.set(n, grads[k]);
    else {
      const g = grads[k];
      for (let i = 0; i < g.length; i++) a[i] += g[i];
    }
  });
}

/** Loss and summed gradients of micro-batches on the current backend (shared by both engines). */
export function microBatchGrads(cfg: ModelConfig, params: ParamStore, microBatches: Batch[], denominator: number): { loss: number; names: string[]; grads: Float32Array[] } {
  const model = CausalLM.fromSource(cfg, params);
  try {
    const acc = new Map<string, Float32Array>();
    let loss = 0;
    for (const b of microBatches) {
      const r = model.lossAndGrads(b, denominator);
      loss += r.loss;
      addInto(acc, [...r.grads.keys()], [...r.grads.values()]);
    }
    const names = model.paramNames();
    return { loss, names, grads: names.map((n) => acc.get(n) ?? new Float32Array(params.readF32(n).length)) };
  } finally {
    model.dispose();
  }
}

export class LocalGrads implements GradEngine {
  readonly workers = 1;
  constructor(readonly cfg: ModelConfig) {}
  async step(params: ParamStore, microBatches: Batch[], denominator: number): Promise<StepGrads> {
    const r = microBatchGrads(this.cfg, params, microBatches, denominator);
    return { loss: r.loss, grads: new Map(r.names.map((n, k) => [n, r.grads[k]])) };
  }
  async close(): Promise<void> {}
}

/** A run of micro-batches for a worker (train/worker.ts), with the current weights. */
export interface StepJob {
  names: string[];
  weights: Float32Array[];
  microBatches: Batch[];
  denominator: number;
}

export interface StepReply {
  loss: number;
  names: string[];
  grads: Float32Array[];
}

export class WorkerGrads implements GradEngine {
  private constructor(
    readonly cfg: ModelConfig,
    private readonly pool: WorkerPool<StepJob, StepReply>,
  ) {}

  get workers(): number {
    return this.pool.size;
  }

  static async start(cfg: ModelConfig, count: number, backend: BackendName): Promise<WorkerGrads> {
    const instances = Math.max(1, count);
    try {
      return new WorkerGrads(cfg, await WorkerPool.start<StepJob, StepReply>('train/worker', { count: instances, workerData: { cfg, backend, instances } }));
    } catch (e) {
      throw isSilError(e) ? e : new SilError('BACKEND_UNAVAILABLE', (e as Error)?.message ?? String(e));
    }
  }

  async step(params: ParamStore, microBatches: Batch[], denominator: number): Promise<StepGrads> {
    const n = Math.min(this.pool.size, microBatches.length);
    const names = params.names();
    const weights = names.map((name) => params.readF32(name));
    const jobs: Promise<StepReply>[] = [];
    for (let k = 0; k < n; k++) {
      const lo = Math.floor((k * microBatches.length) / n);
      const hi = Math.floor(((k + 1) * microBatches.length) / n);
      jobs.push(this.pool.call(k, { names, weights, microBatches: microBatches.slice(lo, hi), denominator }));
    }
    const replies = await Promise.all(jobs);
    const grads = new Map<string, Float32Array>();
    let loss = 0;
    for (const r of replies) {
      loss += r.loss;
      addInto(grads, r.names, r.grads);
    }
    return { loss, grads };
  }

  async close(): Promise<void> {
    await this.pool.terminate();
  }
}
