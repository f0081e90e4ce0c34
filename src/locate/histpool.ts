/**
 * Worker threads that compute the two histogram passes of a global top-k selection in parallel
 * (select/stream.ts `selectMasksWith`): the in-scope tensors are cut into element ranges of at most
 * `RANGE` scores, each worker pulls the next range, scores it from the checkpoints and gradient file
 * itself (histjob.ts) and sends back its histogram; the sums are the histograms of the whole stream,
 * whatever the order. For the emit pass the workers compute the score chunks ahead, handed over in
 * stream order; the mask is emitted on the calling thread, so the result is the same, bit for bit,
 * as with one thread.
 */
import { Worker } from 'node:worker_threads';
import { SilError, SilErrorCode } from '../errors';
import type { ScoredTensor } from '../score/pair';
import { BINS } from '../select/topk';
import type { HistogramProvider } from '../select/stream';
import type { HistJob, ScoreSpec } from './histjob';
import { ranges } from '../ranges';
import { closeWorkers } from '../threads';
import { workerScript } from '../workers/script';

/** scores per histogram job */
const RANGE = 1 << 26;
/** scores per chunk handed to the emitting thread */
const SCORE_CHUNK = 1 << 22;

type Reply = { data: Uint32Array | Float32Array } | { error: { code: SilErrorCode | null; message: string; file?: string; tensor?: string } };

export class HistogramPool {
  private constructor(private workers: Worker[], private readonly script: string) {}

  static start(threads: number): HistogramPool {
    const script = workerScript('locate/histworker', 'or use --threads 1');
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
    return { histogram: (pass, boundary) => this.histogram(spec, tensors, pass, boundary), scores: () => this.scores(spec, tensors) };
  }

  /** One pass's histogram of the whole stream: ranges of `RANGE` scores, as many at once as there are workers. */
  private async histogram(spec: ScoreSpec, tensors: readonly ScoredTensor[], pass: 1 | 2, boundary: number): Promise<{ hist: Float64Array; count: number }> {
    const jobs: HistJob[] = tensors.flatMap((tensor) => [...ranges(tensor.numel, RANGE)].map(([start, end]) => ({ spec, tensor, start, end, pass, boundary })));
    const hist = new Float64Array(BINS);
    let count = 0;
    for await (const { job, data } of this.inOrder(jobs, jobs.length)) {
      for (let j = 0; j < BINS; j++) hist[j] += data[j];
      count += job.end - job.start;
    }
    return { hist, count };
  }

  /**
   * Every tensor's scores in chunks of `chunk`, in stream order, computed by the workers at most
   * `2 × workers` chunks ahead of the consumer (memory: that many chunks).
   */
  async *scores(spec: ScoreSpec, tensors: readonly ScoredTensor[], chunk = SCORE_CHUNK): AsyncGenerator<{ tensor: number; scores: Float32Array }> {
    const jobs: Array<HistJob & { index: number }> = tensors.flatMap((tensor, index) =>
      [...ranges(tensor.numel, chunk)].map(([start, end]) => ({ spec, tensor, start, end, pass: 0 as const, boundary: -1, index })),
    );
    for await (const { job, data } of this.inOrder(jobs, 2 * this.workers.length)) yield { tensor: job.index, scores: data as Float32Array };
  }

  /**
   * Runs `jobs` on the workers (each pulls the next when done), at most `window` ahead of the
   * consumer, and yields their results in job order. A worker's error is thrown at the consumer;
   * after an error or an early stop the workers are replaced (jobs may still be in flight).
   */
  private async *inOrder<J extends HistJob>(jobs: readonly J[], window: number): AsyncGenerator<{ job: J; data: Uint32Array | Float32Array }> {
    type Slot = { promise: Promise<Uint32Array | Float32Array>; resolve(x: Uint32Array | Float32Array): void; reject(e: unknown): void };
    const slots = new Map<number, Slot>();
    const slot = (i: number): Slot => {
      let r = slots.get(i);
      if (!r) {
        const s = {} as Slot;
        s.promise = new Promise((a, b) => {
          s.resolve = a;
          s.reject = b;
        });
        s.promise.catch(() => undefined); // observed by the consumer when it gets there
        slots.set(i, (r = s));
      }
      return r;
    };
    let next = 0;
    let consumed = 0;
    let failed = false;
    const idle: Worker[] = [];
    const inFlight = new Map<Worker, number>();
    const dispatch = (w: Worker) => {
      if (!failed && next < jobs.length && next < consumed + window) {
        inFlight.set(w, next);
        slot(next);
        w.postMessage(jobs[next++]);
      } else idle.push(w);
    };
    const fail = (w: Worker, e: unknown) => {
      failed = true;
      const i = inFlight.get(w);
      if (i !== undefined) slot(i).reject(e);
    };
    const detach: Array<() => void> = [];
    for (const w of this.workers) {
      const onMessage = (r: Reply) => {
        if ('error' in r) return fail(w, r.error.code ? Object.assign(new SilError(r.error.code, r.error.message), { file: r.error.file, tensor: r.error.tensor }) : new Error(r.error.message));
        slot(inFlight.get(w)!).resolve(r.data);
        inFlight.delete(w);
        dispatch(w);
      };
      const onError = (e: Error) => fail(w, e);
      w.on('message', onMessage);
      w.on('error', onError);
      detach.push(() => {
        w.off('message', onMessage);
        w.off('error', onError);
      });
    }
    try {
      for (const w of this.workers) dispatch(w);
      // jobs are dispatched in order, so a failed job is reached before any job that was never sent
      while (consumed < jobs.length) {
        const data = await slot(consumed).promise;
        slots.delete(consumed);
        const job = jobs[consumed++];
        while (idle.length > 0 && !failed && next < jobs.length && next < consumed + window) dispatch(idle.shift()!);
        yield { job, data };
      }
    } finally {
      detach.forEach((d) => d());
      if (consumed < jobs.length || failed) this.renew();
    }
  }

  async close(): Promise<void> {
    await closeWorkers(this.workers, null);
  }
}
