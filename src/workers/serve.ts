/**
 * The worker-thread side of a pool (pool.ts): `serve(run, { init, close })` runs `init` once, says
 * ready (with what `init` returned) or why not, then answers each `{ id, job }` with `run(job)`'s
 * result (its `transfer` buffers moved, not copied) or the error, and on `{ close: true }` runs
 * `close` and lets the thread end.
 */
import { parentPort } from 'node:worker_threads';
import { toWire, type FromWorker, type ToWorker } from './wire';

export interface Served<R> {
  result: R;
  /** buffers to move to the calling thread instead of copying */
  transfer?: ArrayBuffer[];
}

export function serve<J, R>(run: (job: J) => Served<R> | Promise<Served<R>>, opts: { init?: () => unknown; close?: () => void } = {}): void {
  const port = parentPort;
  if (!port) throw new Error('serve() runs in a worker thread');
  const send = (m: FromWorker<R>, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
  const start = async () => {
    try {
      const info = await opts.init?.();
      send({ ready: true, info });
    } catch (e) {
      send({ ready: false, error: toWire(e) });
      return;
    }
    port.on('message', (m: ToWorker<J>) => {
      if ('close' in m) {
        opts.close?.();
        port.close();
        return;
      }
      void (async () => {
        try {
          const r = await run(m.job);
          send({ id: m.id, ok: r.result }, r.transfer ?? []);
        } catch (e) {
          send({ id: m.id, error: toWire(e) });
        }
      })();
    });
  };
  void start();
}

/** The whole buffer of a typed array, when the array spans all of it (else it is copied). */
export function ownBuffer(a: ArrayBufferView): ArrayBuffer[] {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? [a.buffer as ArrayBuffer] : [];
}
