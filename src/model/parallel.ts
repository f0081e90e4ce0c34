/**
 * Data-parallel gradients over worker threads: the wasm backend is single-threaded in Node, so a
 * batch's examples are split into contiguous shards, one per worker (each its own backend instance
 * and model copy), and the gradients are summed. Every worker divides its summed token losses by
 * the whole batch's number of labelled positions, so the sum of their results is exactly the mean
 * loss of the batch and its gradient.
 *
 * The worker script is compiled JS (dist/model/worker.js); build with `npm run build` first.
 */
import * as os from 'node:os';
import type { BlasChoice } from '../blas';
import { SilError } from '../errors';
import { Checkpoint } from '../io/checkpoint';
import type { BackendName } from './backend';
import { type Batch, prepareBatch, sliceBatch } from './batch';
import { checkpointConfig } from './config';
import type { LossAndGrads } from './model';
import { WorkerPool } from '../workers/pool';

export function defaultWorkerCount(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** Sequences per in-memory pass, planned with the logits (planner/inmemory.ts); re-exported for callers of this module. */
export { sequencesPerPass } from './planner';

/** One shard of a batch for a worker (model/worker.ts). */
export interface GradJob {
  batch: Batch;
  denominator: number;
}

export interface GradReply {
  loss: number;
  count: number;
  names: string[];
  grads: Float32Array[];
}

/** What a worker says when it is ready: what its matrix products run on, and a line on it. */
export interface GradWorkerInfo {
  matmul: string;
  matmulNote: string;
}

export interface PoolOptions {
  /** the workers' matrix products through the system BLAS: auto (default), on, off (src/blas/) */
  blas?: BlasChoice;
  /** backend instances sharing the cores in this process, all pools together (default: this pool's workers) */
  instances?: number;
}

/** Worker threads holding the model, reusable across batches. */
export class GradWorkerPool {
  private constructor(
    readonly modelDir: string,
    readonly vocabSize: number,
    private readonly pool: WorkerPool<GradJob, GradReply>,
    readonly backend: BackendName,
    /** what the workers' products run on (`openblas 0.3.21`, `wasm`), and a line on it */
    readonly matmul: string,
    readonly matmulNote: string,
  ) {}

  static async start(modelDir: string, count = defaultWorkerCount(), backend: BackendName = 'wasm', opts: PoolOptions = {}): Promise<GradWorkerPool> {
    const ckpt = Checkpoint.open(modelDir);
    const cfg = checkpointConfig(ckpt);
    ckpt.close();
    const n = Math.max(1, count);
    const pool = await WorkerPool.start<GradJob, GradReply>('model/worker', { count: n, workerData: { modelDir, backend, blas: opts.blas, instances: opts.instances ?? n } });
    const info = pool.info[pool.info.length - 1] as GradWorkerInfo | undefined;
    return new GradWorkerPool(modelDir, cfg.vocabSize, pool, backend, info?.matmul ?? backend, info?.matmulNote ?? '');
  }

  /** worker threads */
  get workers(): number {
    return this.pool.size;
  }

  /** Loss and summed gradients of a whole batch, examples spread over the workers. */
  async lossAndGrads(batch: Batch): Promise<LossAndGrads> {
    const pb = prepareBatch(batch, this.vocabSize);
    if (pb.count === 0) throw new SilError('INVALID_DATA', 'batch has no position with a label (labels are all −100 after the causal shift)');
    const n = Math.min(this.pool.size, pb.batch);
    const jobs: Promise<GradReply>[] = [];
    for (let k = 0; k < n; k++) {
      const lo = Math.floor((k * pb.batch) / n);
      const hi = Math.floor(((k + 1) * pb.batch) / n);
      jobs.push(this.pool.call(k, { batch: sliceBatch(batch, lo, hi), denominator: pb.count }));
    }
    // summed in shard order, whichever worker finishes first
    const replies = await Promise.all(jobs);
    const grads = new Map<string, Float32Array>();
    let loss = 0;
    for (const r of replies) {
      loss += r.loss;
      r.names.forEach((name, k) => {
        const acc = grads.get(name);
        if (!acc) grads.set(name, r.grads[k]);
        else {
          const g = r.grads[k];
          for (let i = 0; i < g.length; i++) acc[i] += g[i];
        }
      });
    }
    return { loss, count: pb.count, grads };
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

/** One-shot convenience: start a pool, compute one batch, close the pool. */
export async function gradParallel(modelDir: string, batch: Batch, opts: { workers?: number; backend?: BackendName; blas?: BlasChoice } = {}): Promise<LossAndGrads> {
  const pool = await GradWorkerPool.start(modelDir, opts.workers, opts.backend, { blas: opts.blas });
  try {
    return await pool.lossAndGrads(batch);
  } finally {
    await pool.close();
  }
}
