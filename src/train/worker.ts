/**
 * Worker-thread side of `WorkerGrads` (grads.ts): one TF.js backend instance per thread. Messages:
 * `{ id, names, weights, microBatches, denominator }` → `{ id, loss, names, grads }` (gradients
 * transferred), or `{ id, error }`. Runs from compiled JS (dist/train/worker.js).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isSilError } from '../errors';
import { BackendName, useBackend } from '../model/backend';
import type { Batch } from '../model/batch';
import type { ModelConfig } from '../model/config';
import { microBatchGrads } from './grads';
import { ParamStore } from './params';

interface Job {
  id: number;
  names: string[];
  weights: Float32Array[];
  microBatches: Batch[];
  denominator: number;
}

function describe(e: unknown): { message: string; code?: string } {
  return isSilError(e) ? { message: e.message, code: e.code } : { message: (e as Error)?.stack ?? String(e) };
}

async function main(): Promise<void> {
  const { cfg, backend, instances } = workerData as { cfg: ModelConfig; backend: BackendName; instances?: number };
  try {
    await useBackend(backend, { instances });
    parentPort!.postMessage({ ready: true });
  } catch (e) {
    parentPort!.postMessage({ ready: false, error: describe(e) });
    return;
  }
  parentPort!.on('message', (job: Job) => {
    try {
      const params = new ParamStore(cfg, new Map(job.names.map((n, k) => [n, job.weights[k]])));
      const r = microBatchGrads(cfg, params, job.microBatches, job.denominator);
      parentPort!.postMessage({ id: job.id, loss: r.loss, names: r.names, grads: r.grads }, r.grads.map((g) => g.buffer as ArrayBuffer));
    } catch (e) {
      parentPort!.postMessage({ id: job.id, error: describe(e) });
    }
  });
}

void main();
