/**
 * A pool of worker threads running one compiled script (script.ts finds it), with the ready
 * handshake, per-job request/response by id, and two runners:
 * - `runUnordered`: each worker pulls the next job of a lazy iterator when it is done; results are
 *   handed over in completion order; the first error rejects.
 * - `runOrdered`: results are yielded in job order, at most `window` jobs ahead of the consumer.
 * Errors from a worker arrive as they were thrown there (wire.ts: code, file, tensor, stack).
 * The worker side is serve.ts.
 */
import { Worker } from 'node:worker_threads';
import { SilError } from '../errors';
import { workerScript } from './script';
import { fromWire, type FromWorker, type ToWorker } from './wire';

interface Pending<R> {
  resolve(r: R): void;
  reject(e: unknown): void;
}

interface Slot<R> {
  worker: Worker;
  pending: Map<number, Pending<R>>;
  /** why this worker can take no more jobs (it exited or failed), or null */
  dead: Error | null;
}

export interface PoolOptions {
  /** worker threads (at least 1) */
  count: number;
  workerData?: unknown;
  /** appended to the error when the script is not built, e.g. 'or use --threads 0' */
  hint?: string;
}

export class WorkerPool<J, R> {
  private slots: Array<Slot<R>> = [];
  private nextId = 0;

  private constructor(
    private readonly script: string,
    private readonly opts: PoolOptions,
    /** what each worker's `init` returned, in worker order */
    readonly info: unknown[],
  ) {}

  /** Starts `count` workers of `module` (e.g. 'delta/worker') and waits until every one is ready. */
  static async start<J, R>(module: string, opts: PoolOptions): Promise<WorkerPool<J, R>> {
    const script = workerScript(module, opts.hint);
    const pool = new WorkerPool<J, R>(script, opts, []);
    try {
      const info = await Promise.all(Array.from({ length: Math.max(1, opts.count) }, () => pool.spawn()));
      pool.info.push(...info);
    } catch (e) {
      await pool.terminate();
      throw e;
    }
    return pool;
  }

  get size(): number {
    return this.slots.length;
  }

  /** One worker, its ready message awaited; resolves with its `init` info. */
  private spawn(): Promise<unknown> {
    const worker = new Worker(this.script, { workerData: this.opts.workerData });
    const slot: Slot<R> = { worker, pending: new Map(), dead: null };
    this.slots.push(slot);
    const die = (e: Error) => {
      if (slot.dead) return;
      slot.dead = e;
      for (const p of slot.pending.values()) p.reject(e);
      slot.pending.clear();
    };
    return new Promise((resolve, reject) => {
      let ready = false;
      worker.on('message', (m: FromWorker<R>) => {
        if ('ready' in m) {
          ready = true;
          if (m.ready) resolve(m.info);
          else {
            const e = fromWire(m.error);
            die(e);
            reject(e);
          }
          return;
        }
        const p = slot.pending.get(m.id);
        if (!p) return; // a job of a run that was given up
        slot.pending.delete(m.id);
        if ('error' in m) p.reject(fromWire(m.error));
        else p.resolve(m.ok);
      });
      worker.on('error', (e) => {
        die(e);
        if (!ready) reject(e);
      });
      worker.on('exit', (code) => {
        const e = new SilError('INTERNAL', `worker thread (${this.script}) exited with code ${code}`);
        die(e);
        if (!ready) reject(e);
      });
    });
  }

  /** Runs `job` on worker `k` and resolves with its result. */
  call(k: number, job: J, transfer: ArrayBuffer[] = []): Promise<R> {
    const slot = this.slots[k];
    if (slot.dead) return Promise.reject(slot.dead);
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      const m: ToWorker<J> = { id, job };
      slot.worker.postMessage(m, transfer);
    });
  }

  /**
   * Runs `jobs` (pulled lazily, so they may be generated on the fly), each worker taking the next
   * when it is done, and hands each result to `onResult` in completion order. Rejects on the
   * first error (from a worker, the iterator or `onResult`); jobs still running are then abandoned.
   */
  runUnordered(jobs: Iterator<J>, onResult: (result: R, job: J) => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let active = 0;
      let failed = false;
      let exhausted = false;
      const fail = (e: unknown) => {
        if (failed) return;
        failed = true;
        reject(e);
      };
      const feed = (k: number) => {
        if (failed) return;
        let j: IteratorResult<J>;
        try {
          j = exhausted ? { done: true, value: undefined } : jobs.next();
        } catch (e) {
          return fail(e);
        }
        if (j.done) {
          exhausted = true;
          if (active === 0) resolve();
          return;
        }
        const job = j.value;
        active++;
        this.call(k, job).then(
          (r) => {
            active--;
            if (failed) return;
            try {
              onResult(r, job);
            } catch (e) {
              return fail(e);
            }
            feed(k);
          },
          (e) => {
            active--;
            fail(e);
          },
        );
      };
      for (let k = 0; k < this.slots.length; k++) feed(k);
    });
  }

  /**
   * Runs `jobs` on the workers (each takes the next when done), at most `window` ahead of the
   * consumer, and yields the results in job order. A worker's error is thrown at the consumer when
   * it reaches that job; after an error or an early stop the workers are replaced (jobs may still
   * be running on them).
   */
  async *runOrdered<K extends J>(jobs: readonly K[], window: number): AsyncGenerator<{ job: K; result: R }> {
    const results = new Map<number, Promise<R>>();
    let next = 0;
    let consumed = 0;
    let failed = false;
    const idle: number[] = [];
    const canDispatch = () => !failed && next < jobs.length && next < consumed + window;
    const dispatch = (k: number) => {
      if (!canDispatch()) {
        idle.push(k);
        return;
      }
      const p = this.call(k, jobs[next]);
      results.set(next++, p);
      p.then(
        () => dispatch(k),
        () => {
          failed = true; // observed by the consumer when it reaches this job
        },
      );
    };
    let done = false;
    try {
      for (let k = 0; k < this.slots.length; k++) dispatch(k);
      // jobs are dispatched in order, so a failed job is reached before any job that was never sent
      while (consumed < jobs.length) {
        const result = await results.get(consumed)!;
        results.delete(consumed);
        const job = jobs[consumed++];
        while (idle.length > 0 && canDispatch()) dispatch(idle.shift()!);
        yield { job, result };
      }
      done = true;
    } finally {
      if (!done || failed) await this.restart();
    }
  }

  /** Replaces every worker with a fresh one (jobs in flight are abandoned). */
  async restart(): Promise<void> {
    const old = this.slots;
    this.slots = [];
    for (const s of old) void s.worker.terminate();
    await Promise.all(old.map(() => this.spawn()));
  }

  /** Asks every worker to close and resolves once all have exited; one still running `graceMs` later is terminated. */
  async close(graceMs = 2000): Promise<void> {
    await Promise.all(
      this.slots.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.dead) {
              void s.worker.terminate().then(() => resolve());
              return;
            }
            s.worker.once('exit', () => resolve());
            const m: ToWorker<J> = { close: true };
            s.worker.postMessage(m);
            setTimeout(() => void s.worker.terminate(), graceMs).unref();
          }),
      ),
    );
    this.slots = [];
  }

  /** Stops every worker now. */
  async terminate(): Promise<void> {
    const old = this.slots;
    this.slots = [];
    await Promise.all(old.map((s) => s.worker.terminate()));
  }
}
