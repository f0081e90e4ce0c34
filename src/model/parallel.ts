/**
 * Data-parallel gradients over worker threads: the wasm backend is single-threaded in Node, so a
 * batch's examples are split into contiguous shards, one per worker (each its own backend instance
 * and model copy), and the gradients are summed. Every worker divides its summed token losses by
 * the whole batch's number of labelled positions, so the sum of their results is exactly the mean
 * loss of the batch and its gradient.
 *
 * The worker script is compiled JS (dist/model/worker.js); build with `npm run build` first.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { BlasChoice } from '../blas';
import { SilError, SilErrorCode } from '../errors';
import { Checkpoint } from '../io/checkpoint';
import type { BackendName } from './backend';
import { Batch, prepareBatch, sliceBatch } from './batch';
import { ModelConfig, parseModelConfig } from './config';
import type { LossAndGrads } from './model';
import { allParamNames, paramShape } from './names';
import { closeWorkers } from '../threads';

/** dist/model/worker.js, whether this module runs from dist/ or from src/ (tests). */
export function workerScript(): string {
  const here = path.join(__dirname, 'worker.js');
  if (fs.existsSync(here)) return here;
  const dist = path.resolve(__dirname, '../../dist/model/worker.js');
  if (fs.existsSync(dist)) return dist;
  throw new SilError('BACKEND_UNAVAILABLE', `the gradient worker script is not built (looked for ${here} and ${dist}); run npm run build`);
}

export function defaultWorkerCount(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** The wasm heap: 4 GiB at most, and it never shrinks. */
const HEAP_BYTES = 4096 * 2 ** 20;

/**
 * How many sequences of length `seqLen` one pass can hold in a 4 GiB wasm heap: the weights, the
 * backend's packed copy of each linear weight and the gradients (≈ 3 × 4 bytes per parameter; 2 × 4
 * when the products go through the system BLAS, `packedCopies` false: it multiplies the weights
 * where they lie) plus
 * the taped activations per token, estimated from the shapes (fitted to measured heap peaks: 155.7M
 * params, hidden 1024, FFN 2816, vocab 32k, 8 layers peak at 2.8 GiB for one 128-token sequence and
 * 3.5 GiB for two). Bigger passes mean bigger, faster matmuls; one sequence is always allowed.
 */
export function sequencesPerPass(cfg: ModelConfig, seqLen: number, packedCopies = true): number {
  let params = 0;
  for (const name of allParamNames(cfg)) params += paramShape(cfg, name).reduce((a, b) => a * b, 1);
  const fixed = (packedCopies ? 3 : 2) * 4 * params + 256 * 2 ** 20;
  const perLayer = 60 * cfg.hiddenSize + 20 * cfg.intermediateSize + 8 * cfg.numHeads * seqLen;
  const perToken = 4 * (cfg.numLayers * perLayer + 12 * cfg.vocabSize);
  return Math.max(1, Math.floor((HEAP_BYTES - fixed) / (perToken * seqLen)));
}

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
    const cfg = parseModelConfig(ckpt.config, path.join(ckpt.dir, 'config.json'));
    ckpt.close();
    const script = workerScript();
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
