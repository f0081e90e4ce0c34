/**
 * Worker-thread entry for histogram jobs (runs from the compiled `dist/locate/histworker.js`):
 * answers each {@link HistJob} with `{ data }` (its histogram or scores, transferred) or `{ error }` carrying a SilError's
 * code, message, file and tensor. Inputs stay open between jobs of the same spec.
 */
import { parentPort } from 'node:worker_threads';
import { isSilError } from '../errors';
import { HistJob, openSpec, runHistJob } from './histjob';

let open: { key: string; handle: ReturnType<typeof openSpec> } | null = null;

parentPort?.on('message', (job: HistJob | null) => {
  if (job === null) {
    open?.handle.close();
    parentPort!.close();
    return;
  }
  try {
    const key = JSON.stringify(job.spec);
    if (!open || open.key !== key) {
      open?.handle.close();
      open = null;
      open = { key, handle: openSpec(job.spec) };
    }
    const data = runHistJob(job, open.handle.inputs);
    parentPort!.postMessage({ data }, data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? [data.buffer as ArrayBuffer] : []);
  } catch (e) {
    const err = isSilError(e)
      ? { code: e.code, message: e.message, file: e.file, tensor: e.tensor }
      : { code: null, message: (e as Error)?.message ?? String(e) };
    parentPort!.postMessage({ error: err });
  }
});
