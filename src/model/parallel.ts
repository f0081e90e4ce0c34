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
import { Worker } from 'node:worker_threads';
import type { BlasChoice } from '../blas';
import { SilError, SilErrorCode } from '../errors';
import { Checkpoint } from '../io/checkpoint';
import type { BackendName } from './backend';
import { Batch, prepareBatch, sliceBatch } from './batch';
import { checkpointConfig } from './config';
import type { LossAndGrads } from './model';
import { closeWorkers } from '../threads';
import { workerScript } from '../workers/script';

export function defaultWorkerCount(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** Sequences per in-memory pass, planned with the logits (memory.ts); re-exported for callers of this module. */
export { sequencesPerPass } from './memory';

interface Reply {
  id: number;
  loss: number;
  count: number;
  names: string[];
  grads: Float32Array[];
  error?: { message: string; code?: string };
}

function rethrow(err: { message: string; code?: string }): never {
  if (err.code) throw new SilError(err.code as SilErrorCode, err.message);
  throw new Error(err.message);
}

export interface PoolOptions {
  /** the workers' matrix products through the system BLAS: auto (default), on, off (src/blas/) */
  blas?: BlasChoice;
  /** backend instances sharing the cores in this process, all pools together (default: this pool's workers) */
  instances?: number;
}

/** Worker threads holding the model, reusable across batches. */
export class GradWorkerPool {
  private nextId = 0;

  private constructor(
    readonly modelDir: string,
    readonly vocabSize: number,
    readonly workers: Worker[],
    readonly backend: BackendName,
    /** what the workers' products run on (`openblas 0.3.21`, `wasm`), and a line on it */
    readonly matmul: string,
    readonly matmulNote: string,
  ) {}

  static async start(modelDir: string, count = defaultWorkerCount(), backend: BackendName = 'wasm', opts: PoolOptions = {}): Promise<GradWorkerPool> {
    const ckpt = Checkpoint.open(modelDir);
    const cfg = checkpointConfig(ckpt);
    ckpt.close();
    const script = workerScript('model/worker');
    const n = Math.max(1, count);
    const workerData = { modelDir, backend, blas: opts.blas, instances: opts.instances ?? n };
    const workers = Array.from({ length: n }, () => new Worker(script, { workerData }));
    let matmul = backend as string;
    let matmulNote = '';
    try {
      await Promise.all(
        workers.map(
          (w) =>
            new Promise<void>((resolve, reject) => {
              w.once('error', reject);
              w.once('message', (m: { ready: boolean; matmul?: string; matmulNote?: string; error?: { message: string; code?: string } }) => {
                if (m.ready) {
                  matmul = m.matmul ?? matmul;
                  matmulNote = m.matmulNote ?? matmulNote;
                  resolve();
                }
                else {
                  try {
                    rethrow(m.error!);
                  } catch (e) {
                    reject(e);
                  }
                }
              });
            }),
        ),
      );
    } catch (e) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw e;
    }
    const pool = new GradWorkerPool(modelDir, cfg.vocabSize, workers, backend, matmul, matmulNote);
    return pool;
  }

  private run(w: Worker, batch: Batch, denominator: number): Promise<Reply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const onMessage = (m: Reply) => {
        if (m.id !== id) return;
        w.off('message', onMessage);
        w.off('error', reject);
        if (m.error) {
          try {
            rethrow(m.error);
          } catch (e) {
            reject(e);
          }
        } else resolve(m);
      };
      w.on('message', onMessage);
      w.once('error', reject);
      w.postMessage({ id, batch, denominator });
    });
  }

  /** Loss and summed gradients of a whole batch, examples spread over the workers. */
  async lossAndGrads(batch: Batch): Promise<LossAndGrads> {
    const pb = prepareBatch(batch, this.vocabSize);
    if (pb.count === 0) throw new SilError('INVALID_DATA', 'batch has no position with a label (labels are all −100 after the causal shift)');
    const n = Math.min(this.workers.length, pb.batch);
    const jobs: Promise<Reply>[] = [];
    for (let k = 0; k < n; k++) {
      const lo = Math.floor((k * pb.batch) / n);
      const hi = Math.floor(((k + 1) * pb.batch) / n);
      jobs.push(this.run(this.workers[k], sliceBatch(batch, lo, hi), pb.count));
    }
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
    await closeWorkers(this.workers, 'close');
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
