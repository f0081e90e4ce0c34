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
import { Batch, sliceBatch } from './batch';
import { CausalLM } from './model';
import { sequencesPerPass } from './parallel';
import { blasMatmul } from '../blas';

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
      const n = job.batch.input_ids.length;
      const per = sequencesPerPass(model.cfg, job.batch.input_ids[0]?.length ?? 1, blasMatmul() === null);
      let loss = 0;
      let count = 0;
      let acc: Map<string, Float32Array> | null = null;
      for (let e = 0; e < n; e += per) {
        const r = model.lossAndGrads(sliceBatch(job.batch, e, Math.min(n, e + per)), job.denominator);
        loss += r.loss;
        count += r.count;
        if (!acc) acc = r.grads;
        else for (const [name, g] of r.grads) addInto(acc.get(name)!, g);
      }
      const names = [...acc!.keys()];
      const grads = names.map((n) => acc!.get(n)!);
      parentPort!.postMessage({ id: job.id, loss, count, names, grads }, grads.map((g) => g.buffer as ArrayBuffer));
    } catch (e) {
      parentPort!.postMessage({ id: job.id, error: describe(e) });
    }
  });
}

function addInto(acc: Float32Array, g: Float32Array): void {
  for (let i = 0; i < g.length; i++) acc[i] += g[i];
}

function describe(e: unknown): { message: string; code?: string } {
  return isSilError(e) ? { message: e.message, code: e.code } : { message: (e as Error)?.stack ?? String(e) };
}

void main();
