/**
 * The wasm backend's matrix products through the system BLAS: TF.js kernels `BatchMatMul` and
 * `_FusedMatMul` for the `wasm` backend, replaced by kernels that call `cblas_sgemm` on the
 * operands where they lie, in the wasm instance's own memory (Float32Array views of its heap at the
 * tensors' offsets, from the backend's `dataIdMap`): nothing is copied in or out.
 *
 *   BatchMatMul   C[i] = op(A[i]) · op(B[i])        A [..., M, K] (or [..., K, M] transposed),
 *                                                   B [..., K, N] (or [..., N, K] transposed)
 *   _FusedMatMul  C[i] = act(op(A[i]) · op(B[i]) + bias)
 *
 * one sgemm per batch entry, or a single one when B is shared by the whole batch and A is not
 * transposed (A's batch is then one [batch·M, K] matrix). A batch of 1 on either side broadcasts.
 * The bias (rank 1) is written into C first and the product added to it (β = 1); activations run
 * through the backend's own kernels. Other shapes (two-sided batch broadcasting) and non-float
 * dtypes go to the original kernels, and so does everything while no library is set
 * (`setBlasMatmul(null)`), so switching is free at any time, per thread.
 */
import * as tf from '@tensorflow/tfjs';
import type { BlasLibrary } from './library';
import { CBLAS_NO_TRANS, CBLAS_ROW_MAJOR, CBLAS_TRANS } from './library';

type TensorInfo = tf.TensorInfo;

interface HeapModule {
  HEAPF32?: Float32Array;
  HEAPU8: Uint8Array;
}

/** The parts of TF.js's BackendWasm used here. */
interface WasmBackendLike {
  wasm: HeapModule;
  dataIdMap: { get(dataId: unknown): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  disposeData(dataId: unknown): boolean;
}

let active: BlasLibrary | null = null;
let installed = false;
const originals = new Map<string, tf.KernelConfig>();
/** sgemm calls and multiply-adds done through the BLAS (for tests and profiles) */
export const blasCounters = { calls: 0, flops: 0 };

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A Float32Array over the whole heap; made per kernel call, since the heap's buffer changes when it grows. */
function heapF32(backend: WasmBackendLike): Float32Array {
  const m = backend.wasm;
  if (m.HEAPF32 && m.HEAPF32.buffer === m.HEAPU8.buffer) return m.HEAPF32;
  return new Float32Array(m.HEAPU8.buffer);
}

/** Float offset of a tensor in the heap. */
function offsetOf(backend: WasmBackendLike, t: TensorInfo): number {
  const bytes = backend.dataIdMap.get(t.dataId).memoryOffset;
  return bytes / 4;
}

interface GemmPlan {
  batch: number;
  batchA: number;
  batchB: number;
  m: number;
  n: number;
  k: number;
  outShape: number[];
}

/** Shapes of a (batched) product, or null when this module leaves it to the original kernel. */
function plan(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): GemmPlan | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2) return null;
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (k !== kb) return null; // the original kernel reports the mismatch
  let outer: number[];
  try {
    outer = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  } catch {
    return null;
  }
  const batchA = size(a.shape.slice(0, -2));
  const batchB = size(b.shape.slice(0, -2));
  const batch = size(outer);
  if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return null;
  return { batch, batchA, batchB, m, n, k, outShape: [...outer, m, n] };
}

/**
 * C ← op(A)·op(B) + β·C for every batch entry, on heap offsets (floats). `beta` 1 adds to what C
 * holds (the bias rows), 0 overwrites.
 */
function gemmInHeap(lib: BlasLibrary, heap: Float32Array, p: GemmPlan, offA: number, offB: number, offC: number, ta: boolean, tb: boolean, beta: number): void {
  const { batch, batchA, batchB, m, n, k } = p;
  if (m === 0 || n === 0) return;
  if (k === 0) {
    if (beta === 0) heap.fill(0, offC, offC + batch * m * n);
    return;
  }
  const lda = ta ? m : k;
  const ldb = tb ? k : n;
  const opA = ta ? CBLAS_TRANS : CBLAS_NO_TRANS;
  const opB = tb ? CBLAS_TRANS : CBLAS_NO_TRANS;
  const view = (off: number, len: number) => heap.subarray(off, off + len);
  if (batch > 1 && batchB === 1 && batchA === batch && !ta) {
    // one product: A's batch entries are consecutive row blocks of a [batch·M, K] matrix
    const rows = batch * m;
    lib.sgemm(CBLAS_ROW_MAJOR, opA, opB, rows, n, k, 1, view(offA, rows * k), lda, view(offB, k * n), ldb, beta, view(offC, rows * n), n);
    blasCounters.calls++;
    blasCounters.flops += 2 * rows * n * k;
    return;
  }
  for (let i = 0; i < batch; i++) {
    const oa = offA + (batchA === 1 ? 0 : i * m * k);
    const ob = offB + (batchB === 1 ? 0 : i * k * n);
    lib.sgemm(CBLAS_ROW_MAJOR, opA, opB, m, n, k, 1, view(oa, m * k), lda, view(ob, k * n), ldb, beta, view(offC + i * m * n, m * n), n);
  }
  blasCounters.calls += batch;
  blasCounters.flops += 2 * batch * m * n * k;
}

function batchMatMulBlas(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo | TensorInfo[] {
  const original = originals.get(tf.BatchMatMul)!;
  const lib = active;
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
  const p = lib ? plan(a, b, !!transposeA, !!transposeB) : null;
  if (!lib || !p) return original.kernelFunc(args as Parameters<tf.KernelFunc>[0]);
  const backend = args.backend as WasmBackendLike;
  const out = backend.makeOutput(p.outShape, 'float32');
  // views are taken after every allocation (an allocation may grow the heap and replace its buffer)
  const heap = heapF32(backend);
  gemmInHeap(lib, heap, p, offsetOf(backend, a), offsetOf(backend, b), offsetOf(backend, out), !!transposeA, !!transposeB, 0);
  return out;
}

/** Activation kernels of `_FusedMatMul`, by the attribute's name. */
const ACTIVATIONS: Record<string, string> = {
  relu: tf.Relu,
  relu6: tf.Relu6,
  elu: tf.Elu,
  sigmoid: tf.Sigmoid,
  leakyrelu: tf.LeakyRelu,
  prelu: tf.Prelu,
};

function runKernel(name: string, inputs: tf.NamedTensorInfoMap, backend: unknown, attrs: tf.NamedAttrMap = {}): TensorInfo {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`the wasm backend has no ${name} kernel`);
  return k.kernelFunc({ inputs, backend: backend as tf.KernelBackend, attrs }) as TensorInfo;
}

function fusedMatMulBlas(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo | TensorInfo[] {
  const original = originals.get(tf._FusedMatMul)!;
  const lib = active;
  const { a, b, bias, preluActivationWeights } = args.inputs as { a: TensorInfo; b: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo };
  const attrs = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean; activation?: string; leakyreluAlpha?: number };
  const p = lib ? plan(a, b, !!attrs.transposeA, !!attrs.transposeB) : null;
  const activation = attrs.activation ?? 'linear';
  const biasOk = !bias || (bias.dtype === 'float32' && bias.shape.length === 1 && p !== null && (bias.shape[0] === p.n || bias.shape[0] === 1));
  const actOk = activation === 'linear' || activation in ACTIVATIONS;
  if (!lib || !p || !biasOk || !actOk) return original.kernelFunc(args as Parameters<tf.KernelFunc>[0]);
  const backend = args.backend as WasmBackendLike;
  const out = backend.makeOutput(p.outShape, 'float32');
  const heap = heapF32(backend);
  const offC = offsetOf(backend, out);
  const rows = p.batch * p.m;
  if (bias) {
    const ob = offsetOf(backend, bias);
    if (bias.shape[0] === 1) heap.fill(heap[ob], offC, offC + rows * p.n);
    else for (let r = 0; r < rows; r++) heap.copyWithin(offC + r * p.n, ob, ob + p.n);
  }
  gemmInHeap(lib, heap, p, offsetOf(backend, a), offsetOf(backend, b), offC, !!attrs.transposeA, !!attrs.transposeB, bias ? 1 : 0);
  if (activation === 'linear') return out;
  const inputs: tf.NamedTensorInfoMap = activation === 'prelu' ? { x: out, alpha: preluActivationWeights! } : { x: out };
  const act = runKernel(ACTIVATIONS[activation], inputs, backend, activation === 'leakyrelu' ? { alpha: attrs.leakyreluAlpha ?? 0.2 } : {});
  backend.disposeData(out.dataId);
  return act;
}

/**
 * Registers the BLAS-backed kernels for the wasm backend (once per thread; they defer to the
 * originals until `setBlasMatmul` gives them a library). Loads the wasm backend package.
 */
export function installBlasKernels(): void {
  if (installed) return;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('@tensorflow/tfjs-backend-wasm');
  for (const [name, kernelFunc] of [
    [tf.BatchMatMul, batchMatMulBlas],
    [tf._FusedMatMul, fusedMatMulBlas],
  ] as const) {
    const orig = tf.getKernel(name, 'wasm');
    if (!orig) throw new Error(`the wasm backend registers no ${name} kernel`);
    originals.set(name, orig);
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ kernelName: name, backendName: 'wasm', setupFunc: orig.setupFunc, disposeFunc: orig.disposeFunc, kernelFunc: kernelFunc as tf.KernelFunc });
  }
  installed = true;
}

/** Routes the wasm backend's products through `lib`, or back to the original kernels (null). */
export function setBlasMatmul(lib: BlasLibrary | null): void {
  if (lib) installBlasKernels();
  active = lib;
}

/** The library the wasm backend's products go through now, or null. */
export function blasMatmul(): BlasLibrary | null {
  return active;
}
