/**
 * Worker-thread side of `WorkerGrads` (grads.ts): one TF.js backend instance per thread; each job
 * is a run of micro-batches with the current weights, answered with the summed loss and gradients
 * (transferred). Runs from compiled JS (dist/train/worker.js).
 */
import { workerData } from 'node:worker_threads';
import { type BackendName, useBackend } from '../model/backend';
import type { ModelConfig } from '../model/config';
import { serve } from '../workers/serve';
import { microBatchGrads, type StepJob, type StepReply } from './grads';
import { ParamStore } from './params';

const { cfg, backend, instances } = workerData as { cfg: ModelConfig; backend: BackendName; instances?: number };

serve<StepJob, StepReply>(
  (job) => {
    const params = new ParamStore(cfg, new Map(job.names.map((n, k) => [n, job.weights[k]])));
    const r = microBatchGrads(cfg, params, job.microBatches, job.denominator);
    return { result: { loss: r.loss, names: r.names, grads: r.grads }, transfer: r.grads.map((g) => g.buffer as ArrayBuffer) };
  },
  { init: async () => void (await useBackend(backend, { instances })) },
);
