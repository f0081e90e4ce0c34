/**
 * Worker threads that compute the two histogram passes of a global top-k selection in parallel
 * (select/stream.ts `selectMasksWith`): the in-scope tensors are cut into element ranges of at most
 * `RANGE` scores, each worker pulls the next range, scores it from the checkpoints and gradient file
 * itself (histjob.ts) and sends back its histogram; the sums are the histograms of the whole stream,
 * whatever the order. The mask is then emitted on the calling thread, so the result is the same,
 * bit for bit, as with one thread.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { SilError, SilErrorCode } from '../errors';
import type { ScoredTensor } from '../score/pair';
import { BINS } from '../select/topk';
import type { HistogramProvider } from '../select/stream';
import type { HistJob, ScoreSpec } from './histjob';
import { closeWorkers } from '../threads';

/** scores per histogram job */
const RANGE = 1 << 26;
/** scores per chunk handed to the emitting thread */
const SCORE_CHUNK = 1 << 22;

/** The compiled worker: beside this file in dist/, or dist/locate/histworker.js when running from src/. */
function workerScript(): string {
  const here = path.join(__dirname, 'histworker.js');
  if (fs.existsSync(here)) return here;
  const built = path.resolve(__dirname, '../../dist/locate/histworker.js');
  if (fs.existsSync(built)) return built;
  throw new SilError('BACKEND_UNAVAILABLE', 'worker script not found; build first (npm run build) or use --threads 1', { file: built });
}

type Reply = { hist: Uint32Array } | { error: { code: SilErrorCode | null; message: string; file?: string; tensor?: string } };

export class HistogramPool {
  private constructor(private workers: Worker[], private readonly script: string) {}

  static start(threads: number): HistogramPool {
    const script = workerScript();
    return new HistogramPool(Array.from({ length: threads }, () => new Worker(script)), script);
  }

  /** After a failed run, workers may still answer its jobs: replace them all. */
  private renew(): void {
    for (const w of this.workers) void w.terminate();
    this.workers = this.workers.map(() => new Worker(this.script));
  }

  get size(): number {
    return this.workers.length;
  }

  /** The histogram passes over `tensors` scored as `spec` says, and their scores in order. */
  provider(spec: ScoreSpec, tensors: readonly ScoredTensor[]): HistogramProvider {
    return { histogram: (pass, boundary) => this.run(spec, tensors, pass, boundary), scores: () => this.scores(spec, tensors) };
  }

  /**
   * Every tensor's scores in chunks of `chunk`, in stream order, computed by the workers at most
   * `2 × workers` chunks ahead of the consumer (memory: that many chunks).
   */
  async *scores(spec: ScoreSpec, tensors: readonly ScoredTensor[], chunk = SCORE_CHUNK): AsyncGenerator<{ tensor: number; scores: Float32Array }> {
    const jobs: Array<{ job: HistJob; tensor: number }> = [];
    tensors.forEach((t, i) => {
      for (let s = 0; s < t.numel; s += chunk) jobs.push({ tensor: i, job: { spec, tensor: t, start: s, end: Math.min(t.numel, s + chunk), pass: 0, boundary: -1 } });
    });
    const window = 2 * this.workers.length;
    const results = new Map<number, { resolve(x: Float32Array): void; reject(e: unknown): void; promise: Promise<Float32Array> }>();
    const slot = (i: number) => {
      let r = results.get(i);
      if (!r) {
        let resolve!: (x: Float32Array) => void;
        let reject!: (e: unknown) => void;
        const promise = new Promise<Float32Array>((a, b) => {
          resolve = a;
          reject = b;
        });
        promise.catch(() => undefined); // observed by the consumer when it gets there
        results.set(i, (r = { resolve, reject, promise }));
      }
      return r;
    };
    let next = 0;
    let consumed = 0;
    let failed: unknown = null;
    const idle: Worker[] = [];
    const inFlight = new Map<Worker, number>();
    const dispatch = (w: Worker) => {
      if (failed === null && next < jobs.length && next < consumed + window) {
        inFlight.set(w, next);
        slot(next);
        w.postMessage(jobs[next++].job);
      } else idle.push(w);
    };
    const detach: Array<() => void> = [];
    for (const w of this.workers) {
      const onMessage = (r: Reply) => {
        const i = inFlight.get(w)!;
        inFlight.delete(w);
        if ('error' in r) {
          failed = r.error.code ? Object.assign(new SilError(r.error.code, r.error.message), { file: r.error.file, tensor: r.error.tensor }) : new Error(r.error.message);
          slot(i).reject(failed);
          return;
        }
        slot(i).resolve(r.hist as unknown as Float32Array);
        dispatch(w);
      };
      const onError = (e: Error) => {
        failed = e;
        const i = inFlight.get(w);
        if (i !== undefined) slot(i).reject(e);
      };
      w.on('message', onMessage);
      w.on('error', onError);
      detach.push(() => {
        w.off('message', onMessage);
        w.off('error', onError);
      });
    }
    try {
      for (const w of this.workers) dispatch(w);
      for (; consumed < jobs.length; ) {
        if (failed !== null && !results.has(consumed)) throw failed;
        const scores = await slot(consumed).promise;
        results.delete(consumed);
        consumed++;
        while (idle.length > 0 && next < jobs.length && next < consumed + window) dispatch(idle.shift()!);
        yield { tensor: jobs[consumed - 1].tensor, scores };
      }
    } finally {
      detach.forEach((d) => d());
      if (consumed < jobs.length || failed !== null) this.renew(); // jobs may still be in flight
    }
  }

  private run(spec: ScoreSpec, tensors: readonly ScoredTensor[], pass: 1 | 2, boundary: number): Promise<{ hist: Float64Array; count: number }> {
    const jobs: HistJob[] = [];
    for (const t of tensors) for (let s = 0; s < t.numel; s += RANGE) jobs.push({ spec, tensor: t, start: s, end: Math.min(t.numel, s + RANGE), pass, boundary });
    const total = new Float64Array(BINS);
    let count = 0;
    let next = 0;
    let active = 0;
    return new Promise((resolve, reject) => {
      let failed = false;
      const detach: Array<() => void> = [];
      const finish = (e?: unknown) => {
        detach.forEach((d) => d());
        if (e) {
          this.renew();
          reject(e);
        } else resolve({ hist: total, count });
      };
      const feed = (w: Worker) => {
        if (next < jobs.length) {
          active++;
          w.postMessage(jobs[next++]);
        }
      };
      for (const w of this.workers) {
        let job: HistJob | null = null;
        const onMessage = (r: Reply) => {
          active--;
          if (failed) return;
          if ('error' in r) {
            failed = true;
            const err = r.error.code ? Object.assign(new SilError(r.error.code, r.error.message), { file: r.error.file, tensor: r.error.tensor }) : new Error(r.error.message);
            return finish(err);
          }
          for (let j = 0; j < BINS; j++) total[j] += r.hist[j];
          count += job ? job.end - job.start : 0;
          job = next < jobs.length ? jobs[next] : null;
          feed(w);
          if (active === 0 && next >= jobs.length) finish();
        };
        const onError = (e: Error) => {
          if (failed) return;
          failed = true;
          finish(e);
        };
        w.on('message', onMessage);
        w.on('error', onError);
        detach.push(() => {
          w.off('message', onMessage);
          w.off('error', onError);
        });
        job = next < jobs.length ? jobs[next] : null;
        feed(w);
      }
      if (jobs.length === 0) finish();
    });
  }

  async close(): Promise<void> {
    await closeWorkers(this.workers, null);
  }
}
