/**
 * One unit of delta work: an element range of one tensor, present in both checkpoints with the same
 * dtype. A job reads its two byte ranges by file offset (never more than `count` elements per side),
 * runs the kernel for the dtype, and returns the partial sums (and |Δ| for the range when asked).
 * The same code runs inside worker threads and, with `--threads 0`, on the main thread.
 */
import * as fs from 'node:fs';
import { SilError } from '../errors';
import { DTYPE_BYTES, type Dtype, decodeFloat, viewRaw } from '../io/dtype';
import { Bf16SimdKernel } from './simd';
import { type DeltaAccum, accumulateBf16, accumulateReference, accumulateValues, newAccum } from './stats';

export interface DeltaJob {
  id: number;
  tensor: string;
  dtype: Dtype;
  /** first element of the range, and its length */
  start: number;
  count: number;
  baseFile: string;
  /** absolute byte offset of element `start` in each file */
  baseOffset: number;
  attackedFile: string;
  attackedOffset: number;
  wantAbs: boolean;
}

/** `simd`: WebAssembly SIMD for BF16 when the runtime has it (default); `js`: the JS kernels only. */
export type KernelChoice = 'simd' | 'js';

export interface DeltaResult {
  id: number;
  acc: DeltaAccum;
  abs?: Float32Array;
}

/** Reads and computes jobs, keeping file descriptors and two read buffers between jobs. */
export class JobRunner {
  private readonly fds = new Map<string, number>();
  private bufA = new Uint8Array(0);
  private bufB = new Uint8Array(0);
  private readonly simd: Bf16SimdKernel | null;

  constructor(kernel: KernelChoice = 'simd') {
    this.simd = kernel === 'simd' ? Bf16SimdKernel.create() : null;
  }

  private fd(file: string): number {
    let fd = this.fds.get(file);
    if (fd === undefined) {
      try {
        fd = fs.openSync(file, 'r');
      } catch (e) {
        throw new SilError('FILE_NOT_FOUND', `cannot open: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file });
      }
      this.fds.set(file, fd);
    }
    return fd;
  }

  private read(file: string, tensor: string, into: Uint8Array, position: number): void {
    const fd = this.fd(file);
    let done = 0;
    while (done < into.length) {
      const got = fs.readSync(fd, into, done, Math.min(1 << 30, into.length - done), position + done);
      if (got === 0) throw new SilError('TRUNCATED', `unexpected end of file at byte ${position + done}`, { file, tensor });
      done += got;
    }
  }

  run(job: DeltaJob): DeltaResult {
    if (job.dtype === 'BF16' && this.simd) return this.runSimd(job, this.simd);
    const bytes = job.count * DTYPE_BYTES[job.dtype];
    if (this.bufA.length < bytes) {
      this.bufA = new Uint8Array(bytes);
      this.bufB = new Uint8Array(bytes);
    }
    const a = this.bufA.subarray(0, bytes);
    const b = this.bufB.subarray(0, bytes);
    this.read(job.baseFile, job.tensor, a, job.baseOffset);
    this.read(job.attackedFile, job.tensor, b, job.attackedOffset);
    const abs = job.wantAbs ? new Float32Array(job.count) : undefined;
    const acc = newAccum();
    const n = job.count;
    switch (job.dtype) {
      case 'BF16':
        accumulateBf16(viewRaw('BF16', a) as Uint16Array, viewRaw('BF16', b) as Uint16Array, n, acc, abs);
        break;
      case 'F32':
        accumulateValues(viewRaw('F32', a) as Float32Array, viewRaw('F32', b) as Float32Array, n, acc, abs);
        break;
      case 'F16':
        accumulateValues(decodeFloat('F16', a), decodeFloat('F16', b), n, acc, abs);
        break;
      default:
        accumulateValues(toF64(job.dtype, a), toF64(job.dtype, b), n, acc, abs);
    }
    return { id: job.id, acc, abs };
  }

  /** BF16 through the SIMD kernel: file bytes are read straight into its memory. */
  private runSimd(job: DeltaJob, k: Bf16SimdKernel): DeltaResult {
    const n = job.count;
    const { a, b, abs } = k.buffers(n);
    this.read(job.baseFile, job.tensor, a, job.baseOffset);
    this.read(job.attackedFile, job.tensor, b, job.attackedOffset);
    const out = job.wantAbs ? new Float32Array(n) : undefined;
    const { done, sums } = k.run(a, b, out ? abs : null, n);
    const ua = new Uint16Array(a.buffer, a.byteOffset, n);
    const ub = new Uint16Array(b.buffer, b.byteOffset, n);
    const acc = newAccum();
    if (done < n) accumulateBf16(ua.subarray(done), ub.subarray(done), n - done, acc, out?.subarray(done));
    if (Number.isFinite(sums.l1) && Number.isFinite(sums.w2sq) && acc.nan === 0 && acc.inf === 0) {
      acc.numel += done;
      acc.finite += done;
      acc.l1 += sums.l1;
      acc.l2sq += sums.l2sq;
      acc.w2sq += sums.w2sq;
      acc.changed += sums.changed;
      if (sums.maxAbs > acc.maxAbs) acc.maxAbs = sums.maxAbs;
      if (out) out.set(abs.subarray(0, done));
      return { id: job.id, acc, abs: out };
    }
    // NaN or Inf somewhere: redo the whole range with the careful loop
    const fa = new Float32Array(n);
    const fb = new Float32Array(n);
    const wa = new Uint32Array(fa.buffer);
    const wb = new Uint32Array(fb.buffer);
    for (let i = 0; i < n; i++) {
      wa[i] = ua[i] << 16;
      wb[i] = ub[i] << 16;
    }
    return { id: job.id, acc: accumulateReference(fa, fb, n, newAccum(), out), abs: out };
  }

  close(): void {
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }
}

/** F64 and integer/BOOL elements as float64 (I64/U64 beyond 2⁵³ lose precision, as in numpy). */
function toF64(dtype: Dtype, bytes: Uint8Array): Float64Array {
  const raw = viewRaw(dtype, bytes);
  if (raw instanceof Float64Array) return raw;
  const out = new Float64Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = Number(raw[i]);
  return out;
}
