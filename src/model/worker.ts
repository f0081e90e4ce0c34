/**
 * Worker-thread side of data-parallel gradients (see parallel.ts). Each worker owns one TF.js
 * backend instance (wasm by default) and a full copy of the model, loaded from the checkpoint
 * folder given in `workerData`. A shard's examples run in passes of as many sequences as the backend's
 * memory allows (`sequencesPerPass`), gradients summed over the passes.
 * Messages: `{ id, batch, denominator }` → `{ id, loss, count, names,
 * grads }` (grads transferred, not copied), or `{ id, error }`.
 * Runs from compiled JS (dist/model/worker.js).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Checkpoint } from '../io/checkpoint';
import { isSilError } from '../errors';
import type { BlasChoice } from '../blas';
import { BackendName, useBackend } from './backend';
import type { Batch } from './batch';
import { CausalLM } from './model';
import { sequencesPerPass } from './memory';

interface Job {
  id: number;
  batch: Batch;
  denominator: number;
}

async function main(): Promise<void> {
  const { modelDir, backend, blas, instances } = workerData as { modelDir: string; backend: BackendName; blas?: BlasChoice; instances?: number };
  let model: CausalLM;
  let matmul = '';
  let matmulNote = '';
  try {
    ({ matmul, matmulNote } = await useBackend(backend, { blas, instances }));
    const ckpt = Checkpoint.open(modelDir);
    model = CausalLM.fromCheckpoint(ckpt);
    ckpt.close();
    parentPort!.postMessage({ ready: true, matmul, matmulNote });
  } catch (e) {
    parentPort!.postMessage({ ready: false, error: describe(e) });
    return;
  }
  parentPort!.on('message', (job: Job | 'close') => {
    if (job === 'close') {
      model.dispose();
      parentPort!.close();
      return;
    }
    try {
      const per = sequencesPerPass(model.cfg, job.batch.input_ids[0]?.length ?? 1);
      const { loss, count, grads: acc } = model.lossAndGradsInPasses(job.batch, per, job.denominator);
      const names = [...acc.keys()];
      const grads = names.map((n) => acc.get(n)!);
      parentPort!.postMessage({ id: job.id, loss, count, names, grads }, grads.map((g) => g.buffer as ArrayBuffer));
    } catch (e) {
      parentPort!.postMessage({ id: job.id, error: describe(e) });
    }
  });
}

function describe(e: unknown): { message: string; code?: string } {
  return isSilError(e) ? { message: e.message, code: e.code } : { message: (e as Error)?.stack ?? String(e) };
}

void main();
