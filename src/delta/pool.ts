/**
 * A fixed set of worker threads that each hold one delta job at a time: memory in flight is
 * bounded by threads × (two read buffers + one |Δ| buffer), whatever the model size.
 * `threads = 0` runs the jobs on the calling thread (same code, no workers).
 */
import { WorkerPool } from '../workers/pool';
import { type DeltaJob, type DeltaResult, JobRunner, type KernelChoice } from './job';

/**
 * Runs `jobs` (pulled lazily, so they may be generated on the fly) and hands each result to
 * `onResult` on the calling thread, in completion order. Rejects on the first error, after
 * stopping every worker.
 */
export async function runJobs(jobs: Iterator<DeltaJob>, threads: number, onResult: (r: DeltaResult) => void, kernel: KernelChoice = 'simd'): Promise<void> {
  if (threads <= 0) {
    const runner = new JobRunner(kernel);
    try {
      for (let j = jobs.next(); !j.done; j = jobs.next()) {
        onResult(runner.run(j.value));
        await new Promise<void>((r) => setImmediate(r)); // let progress bars and signals through
      }
    } finally {
      runner.close();
    }
    return;
  }
  const pool = await WorkerPool.start<DeltaJob, DeltaResult>('delta/worker', { count: threads, workerData: { kernel }, hint: 'or use --threads 0' });
  try {
    await pool.runUnordered(jobs, onResult);
  } finally {
    await pool.terminate();
  }
}
