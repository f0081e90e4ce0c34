/**
 * Worker-thread entry for histogram jobs (runs from the compiled `dist/locate/histworker.js`):
 * answers each {@link HistJob} with its histogram or scores (transferred). Inputs stay open between
 * jobs of the same spec.
 */
import { ownBuffer, serve } from '../workers/serve';
import { type HistJob, openSpec, runHistJob } from './histjob';

let open: { key: string; handle: ReturnType<typeof openSpec> } | null = null;

serve<HistJob, Uint32Array | Float32Array>(
  (job) => {
    const key = JSON.stringify(job.spec);
    if (!open || open.key !== key) {
      open?.handle.close();
      open = null;
      open = { key, handle: openSpec(job.spec) };
    }
    const result = runHistJob(job, open.handle.inputs);
    return { result, transfer: ownBuffer(result) };
  },
  { close: () => open?.handle.close() },
);
