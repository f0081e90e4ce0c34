/**
 * A fixed set of worker threads that each hold one delta job at a time: memory in flight is
 * bounded by threads × (two read buffers + one |Δ| buffer), whatever the model size.
 * `threads = 0` runs the jobs on the calling thread (same code, no workers).
 */
import { Worker } from 'node:worker_threads';
import { SilError, SilErrorCode } from '../errors';
import { workerScript } from '../workers/script';
import { DeltaJob, DeltaResult, JobRunner, KernelChoice } from './job';

type Message = { ok: DeltaResult } | { error: { code: SilErrorCode | null; message: string; file?: string; tensor?: string }; id: number };

function toError(err: { code: SilErrorCode | null; message: string; file?: string; tensor?: string }): Error {
  if (!err.code) return new Error(err.message);
  return Object.assign(new SilError(err.code, err.message), { file: err.file, tensor: err.tensor });
}

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
  const script = workerScript('delta/worker', 'or use --threads 0');
  const workers: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let active = 0;
      let failed = false;
      let exhausted = false;
      const fail = (e: unknown) => {
        if (failed) return;
        failed = true;
        reject(e);
      };
      const feed = (w: Worker) => {
        if (failed) return;
        const j = exhausted ? { done: true as const, value: undefined } : jobs.next();
        if (j.done) {
          exhausted = true;
          if (active === 0) resolve();
          return;
        }
        active++;
        w.postMessage(j.value);
      };
      for (let i = 0; i < threads; i++) {
        const w = new Worker(script, { workerData: { kernel } });
        workers.push(w);
        w.on('message', (m: Message) => {
          active--;
          if ('error' in m) return fail(toError(m.error));
          try {
            onResult(m.ok);
          } catch (e) {
            return fail(e);
          }
          feed(w);
        });
        w.on('error', fail);
        w.on('exit', (code) => {
          if (code !== 0) fail(new Error(`delta worker exited with code ${code}`));
        });
      }
      for (const w of workers) feed(w);
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
