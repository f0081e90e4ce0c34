/**
 * Worker-thread side of data-parallel gradients (see parallel.ts). Each worker owns one TF.js
 * backend instance (wasm by default) and a full copy of the model, loaded from the checkpoint
 * folder given in `workerData`; its ready message says what its matrix products run on. A shard's
 * examples run in passes of as many sequences as the backend's memory allows (`sequencesPerPass`),
 * gradients summed over the passes and transferred, not copied. Runs from compiled JS
 * (dist/model/worker.js).
 */
import { workerData } from 'node:worker_threads';
import { Checkpoint } from '../io/checkpoint';
import type { BlasChoice } from '../blas';
import { type BackendName, useBackend } from './backend';
import { CausalLM } from './model';
import { sequencesPerPass } from './planner';
import type { GradJob, GradReply, GradWorkerInfo } from './parallel';
import { serve } from '../workers/serve';

const { modelDir, backend, blas, instances } = workerData as { modelDir: string; backend: BackendName; blas?: BlasChoice; instances?: number };
let model: CausalLM | null = null;

serve<GradJob, GradReply>(
  (job) => {
    const per = sequencesPerPass(model!.cfg, job.batch.input_ids[0]?.length ?? 1);
    const { loss, count, grads: acc } = model!.lossAndGradsInPasses(job.batch, per, job.denominator);
    const names = [...acc.keys()];
    const grads = names.map((n) => acc.get(n)!);
    return { result: { loss, count, names, grads }, transfer: grads.map((g) => g.buffer as ArrayBuffer) };
  },
  {
    init: async (): Promise<GradWorkerInfo> => {
      const { matmul, matmulNote } = await useBackend(backend, { blas, instances });
      const ckpt = Checkpoint.open(modelDir);
      model = CausalLM.fromCheckpoint(ckpt);
      ckpt.close();
      return { matmul, matmulNote };
    },
    close: () => model?.dispose(),
  },
);
