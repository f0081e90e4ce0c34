/**
 * Worker-thread lifecycle shared by the pools (model/parallel.ts, locate/histpool.ts).
 */
import type { Worker } from 'node:worker_threads';

/**
 * Asks every worker to stop with `message` and resolves once all have exited; a worker still
 * running `graceMs` later is terminated.
 */
export async function closeWorkers(workers: readonly Worker[], message: unknown, graceMs = 2000): Promise<void> {
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((resolve) => {
          w.once('exit', () => resolve());
          w.postMessage(message);
          setTimeout(() => void w.terminate(), graceMs).unref();
        }),
    ),
  );
}
