/**
 * Worker threads that compute the two histogram passes of a global top-k selection in parallel
 * (select/stream.ts `selectMasksWith`): the in-scope tensors are cut into element ranges of at most
 * `RANGE` scores, each worker pulls the next range, scores it from the checkpoints and gradient file
 * itself (histjob.ts) and sends back its histogram; the sums are the histograms of the whole stream,
 * whatever the order. For the emit pass the workers compute the score chunks ahead, handed over in
 * stream order; the mask is emitted on the calling thread, so the result is the same, bit for bit,
 * as with one thread.
 */
import type { ScoredTensor } from '../score/pair';
import { BINS } from '../select/topk';
import type { HistogramProvider } from '../select/stream';
import type { HistJob, ScoreSpec } from './histjob';
import { ranges } from '../ranges';
import { WorkerPool } from '../workers/pool';

/** scores per histogram job */
const RANGE = 1 << 26;
/** scores per chunk handed to the emitting thread */
const SCORE_CHUNK = 1 << 22;

export class HistogramPool {
  private constructor(private readonly pool: WorkerPool<HistJob, Uint32Array | Float32Array>) {}

  static async start(threads: number): Promise<HistogramPool> {
    return new HistogramPool(await WorkerPool.start('locate/histworker', { count: threads, hint: 'or use --threads 1' }));
  }

  get size(): number {
    return this.pool.size;
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
    for await (const { job, result: data } of this.pool.runOrdered(jobs, jobs.length)) {
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
    for await (const { job, result } of this.pool.runOrdered(jobs, 2 * this.pool.size)) yield { tensor: job.index, scores: result as Float32Array };
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
