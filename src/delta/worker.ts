/**
 * Worker-thread entry for delta jobs (runs from the compiled `dist/delta/worker.js`). Receives
 * {@link DeltaJob}s, answers `{ ok: DeltaResult }` (the |Δ| buffer transferred, not copied) or
 * `{ error }` carrying a SilError's code, message, file and tensor.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isSilError } from '../errors';
import { DeltaJob, JobRunner, KernelChoice } from './job';

const runner = new JobRunner((workerData as { kernel?: KernelChoice } | null)?.kernel ?? 'simd');

parentPort?.on('message', (job: DeltaJob | null) => {
  if (job === null) {
    runner.close();
    parentPort!.close();
    return;
  }
  try {
    const r = runner.run(job);
    parentPort!.postMessage({ ok: r }, r.abs ? [r.abs.buffer as ArrayBuffer] : []);
  } catch (e) {
    const err = isSilError(e)
      ? { code: e.code, message: e.message, file: e.file, tensor: e.tensor }
      : { code: null, message: (e as Error)?.stack ?? String(e) };
    parentPort!.postMessage({ error: err, id: job.id });
  }
});
