/**
 * What crosses the worker boundary. Parent → worker: `{ id, job }`, or `{ close: true }`. Worker →
 * parent: first `{ ready: true, info }` (or `{ ready: false, error }` when it could not start), then
 * `{ id, ok }` or `{ id, error }` per job. Errors keep a SilError's code, file and tensor, the
 * message and the worker's stack.
 */
import { isSilError, SilError, type SilErrorCode } from '../errors';

export interface WireError {
  code: SilErrorCode | null;
  message: string;
  file?: string;
  tensor?: string;
  stack?: string;
}

export type ToWorker<J> = { id: number; job: J } | { close: true };
export type FromWorker<R> = { ready: true; info?: unknown } | { ready: false; error: WireError } | { id: number; ok: R } | { id: number; error: WireError };

export function toWire(e: unknown): WireError {
  if (isSilError(e)) return { code: e.code, message: e.message, file: e.file, tensor: e.tensor, stack: e.stack };
  if (e instanceof Error) return { code: null, message: e.message, stack: e.stack };
  return { code: null, message: String(e) };
}

/** The error again on the calling thread: a SilError with the same code, message, file and tensor (else an Error), with the worker's stack. */
export function fromWire(w: WireError): Error {
  let e: Error;
  if (w.code) {
    // The message already names the file and tensor (SilError adds them once, in the worker).
    e = new SilError(w.code, w.message);
    Object.assign(e, { file: w.file, tensor: w.tensor });
  } else e = new Error(w.message);
  if (w.stack) e.stack = w.stack;
  return e;
}
