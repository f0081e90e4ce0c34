/**
 * Worker-thread entry for delta jobs (runs from the compiled `dist/delta/worker.js`): answers each
 * {@link DeltaJob} with its {@link DeltaResult}, the |Δ| buffer transferred, not copied.
 */
import { workerData } from 'node:worker_threads';
import { serve } from '../workers/serve';
import { type DeltaJob, type DeltaResult, JobRunner, type KernelChoice } from './job';

const runner = new JobRunner((workerData as { kernel?: KernelChoice } | null)?.kernel ?? 'simd');

serve<DeltaJob, DeltaResult>(
  (job) => {
    const result = runner.run(job);
    return { result, transfer: result.abs ? [result.abs.buffer as ArrayBuffer] : [] };
  },
  { close: () => runner.close() },
);
