/**
 * The TF.js backend `cuda`: a KernelBackend whose tensors live in GPU memory (4 bytes per element:
 * float32, int32, and bool stored as int32 0/1). Kernels are registered for it in ops.ts; reads to
 * the host are synchronous copies (so `dataSync` works, unlike webgpu) and `read` resolves at once.
 */
import * as tf from '@tensorflow/tfjs';
import { SilError } from '../errors';
import { type GpuDevice, type Precision } from './device';

type DataId = object;

export interface DeviceData {
  /**
   * device address of the 4-byte words (0 for an empty tensor, and for a float32 tensor held only as
   * bfloat16 `half` until a kernel asks for its float32 words: see `ptr`)
   */
  ptr: number;
  /**
   * a bfloat16 copy (device address, 0 = none): made once when a float32 tensor is first used as a
   * matrix-product operand in bf16 precision and kept as long as the tensor (tensors are immutable),
   * or the only storage of a weight uploaded from a BF16 checkpoint (then exact: widening it is lossless)
   */
  half: number;
  size: number;
  dtype: tf.DataType;
  refCount: number;
  /** held only as bfloat16 halves (`makeHalfOutput`): there are no float32 words, and they cannot be made exactly */
  halfOnly?: boolean;
}

export class CudaBackend extends tf.KernelBackend {
  private readonly store = new Map<DataId, DeviceData>();
  /** kernels that ran on the CPU backend (name → count), see fallback in ops.ts */
  readonly fallbacks = new Map<string, number>();

  constructor(
    readonly device: GpuDevice,
    public precision: Precision,
  ) {
    super();
  }

  override write(values: tf.backend_util.BackendValues | null, shape: number[], dtype: tf.DataType): DataId {
    const id = {};
    this.put(id, values, shape, dtype, 1);
    return id;
  }

  override move(dataId: DataId, values: tf.backend_util.BackendValues | null, shape: number[], dtype: tf.DataType, refCount: number): void {
    this.put(dataId, values, shape, dtype, refCount);
  }

  private put(id: DataId, values: tf.backend_util.BackendValues | null, shape: number[], dtype: tf.DataType, refCount: number): void {
    if (dtype === 'string' || dtype === 'complex64') throw new SilError('UNSUPPORTED_OPTION', `the cuda backend has no ${dtype} tensors`);
    const size = shape.reduce((a, b) => a * b, 1);
    const old = this.store.get(id);
    if (old) this.releaseData(old);
    const ptr = size > 0 ? this.device.alloc(size * 4) : 0;
    this.store.set(id, { ptr, half: 0, size, dtype, refCount });
    if (values && size > 0) this.device.upload(ptr, toWords(values as ArrayBufferView, dtype, size));
  }

  /** A fresh, uninitialised tensor on the device. */
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo {
    const dataId = {};
    this.put(dataId, null, shape, dtype, 1);
    return { dataId, shape, dtype };
  }

  /** A tensor sharing `x`'s device data under another shape (reshape, identity). */
  alias(x: tf.TensorInfo, shape: number[], dtype: tf.DataType = x.dtype): tf.TensorInfo {
    this.incRef(x.dataId);
    return { dataId: x.dataId, shape, dtype };
  }

  get(dataId: DataId): DeviceData {
    const d = this.store.get(dataId);
    if (!d) throw new Error('cuda backend: tensor data not found (disposed?)');
    return d;
  }

  /** The float32 (or int32) words of `t` on the device, widened from its bfloat16 storage at first use. */
  ptr(t: tf.TensorInfo): number {
    return this.words(this.get(t.dataId));
  }

  private words(d: DeviceData): number {
    if (d.ptr || d.size === 0 || !d.half) return d.ptr;
    if (d.halfOnly) throw new Error('cuda backend: the float32 words of a tensor kept only as its bfloat16 copy were asked for');
    d.ptr = this.device.alloc(d.size * 4);
    this.device.launch('halves_to_f32', this.device.gridFor(d.size), 256, [{ p: d.half }, { p: d.ptr }, { l: d.size }, { i: 0 }]);
    return d.ptr;
  }

  /** The bfloat16 copy of a float32 tensor (made at first use, then kept with the tensor). */
  halfPtr(t: tf.TensorInfo): number {
    const d = this.get(t.dataId);
    if (d.dtype !== 'float32') throw new Error(`cuda backend: no bfloat16 copy of a ${d.dtype} tensor`);
    if (d.half || d.size === 0) return d.half;
    d.half = this.device.alloc(d.size * 2);
    this.device.launch('f32_to_bf16', this.device.gridFor(d.size), 256, [{ p: d.ptr }, { p: d.half }, { l: d.size }]);
    return d.half;
  }

  /**
   * A fresh float32 tensor held only as bfloat16 halves, for a kernel to write (an activation that
   * later kernels read only as a bf16 matrix-product operand): its float32 words cannot be asked for.
   */
  makeHalfOutput(shape: number[]): tf.TensorInfo {
    const size = shape.reduce((a, b) => a * b, 1);
    const dataId = {};
    this.store.set(dataId, { ptr: 0, half: size > 0 ? this.device.alloc(size * 2) : 0, size, dtype: 'float32', refCount: 1, halfOnly: true });
    return { dataId, shape, dtype: 'float32' };
  }

  /** Gives a fresh float32 output a bfloat16 copy for the same kernel to write (both forms then kept); its address. */
  attachHalf(t: tf.TensorInfo): number {
    const d = this.get(t.dataId);
    if (d.half || d.dtype !== 'float32') throw new Error('cuda backend: a bfloat16 copy is attached to a fresh float32 output only');
    if (d.size > 0) d.half = this.device.alloc(d.size * 2);
    return d.half;
  }

  /** The float32 words of `t` as they are (0 for a tensor held only as bfloat16 halves); nothing is widened. */
  wordsIfAny(t: tf.TensorInfo): number {
    return this.get(t.dataId).ptr;
  }

  /** The bfloat16 copy of `t` as it is (0 when there is none); nothing is converted. */
  halfIfAny(t: tf.TensorInfo): number {
    return this.get(t.dataId).half;
  }

  /**
   * The float32 words of `t` for a kernel that adds into them in place (a gradient sum): only for a
   * tensor that nothing else shares (reference count 1); a bfloat16 copy, now stale, is dropped.
   */
  mutablePtr(t: tf.TensorInfo): number {
    const d = this.get(t.dataId);
    if (d.refCount !== 1 || d.dtype !== 'float32' || d.halfOnly) throw new Error('cuda backend: only an unshared float32 tensor can be updated in place');
    const p = this.words(d);
    if (d.half) this.device.release(d.half);
    d.half = 0;
    return p;
  }

  /**
   * A float32 tensor stored as the given bfloat16 values only (a BF16 checkpoint's weight): half the
   * device memory, no conversion before matrix products; the float32 words are made if a kernel
   * other than a bf16 product reads it.
   */
  writeBf16(raw: Uint8Array, shape: number[]): tf.TensorInfo {
    const size = shape.reduce((a, b) => a * b, 1);
    const dataId = {};
    const half = size > 0 ? this.device.alloc(size * 2) : 0;
    this.store.set(dataId, { ptr: 0, half, size, dtype: 'float32', refCount: 1 });
    if (size > 0) this.device.upload(half, raw.subarray(0, size * 2));
    return { dataId, shape, dtype: 'float32' };
  }

  /** Bytes of device memory a tensor holds (float32 words and bfloat16 copy). */
  deviceBytes(dataId: DataId): number {
    const d = this.store.get(dataId);
    if (!d) return 0;
    return (d.ptr ? d.size * 4 : 0) + (d.half ? d.size * 2 : 0);
  }

  private releaseData(d: DeviceData): void {
    if (d.ptr) this.device.release(d.ptr);
    if (d.half) this.device.release(d.half);
    d.ptr = 0;
    d.half = 0;
  }

  has(dataId: DataId): boolean {
    return this.store.has(dataId);
  }

  override readSync(dataId: DataId): tf.backend_util.BackendValues {
    const d = this.get(dataId);
    const words = d.dtype === 'float32' ? new Float32Array(d.size) : new Int32Array(d.size);
    if (d.size > 0) this.device.download(words, this.words(d));
    if (d.dtype === 'bool') return Uint8Array.from(words as Int32Array, (v) => (v !== 0 ? 1 : 0));
    return words;
  }

  override read(dataId: DataId): Promise<tf.backend_util.BackendValues> {
    return Promise.resolve(this.readSync(dataId));
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const d = this.store.get(dataId);
    if (!d) return true;
    d.refCount--;
    if (!force && d.refCount > 0) return false;
    this.releaseData(d);
    this.store.delete(dataId);
    return true;
  }

  override refCount(dataId: DataId): number {
    return this.store.get(dataId)?.refCount ?? 0;
  }

  override incRef(dataId: DataId): void {
    const d = this.store.get(dataId);
    if (d) d.refCount++;
  }

  override numDataIds(): number {
    return this.store.size;
  }

  override memory(): { unreliable: boolean; reasons?: string[] } & Record<string, unknown> {
    return { unreliable: false, numBytesInGPU: this.device.pool.inUse, numBytesInGPUCached: this.device.pool.cached, peakBytesInGPU: this.device.pool.peak };
  }

  override timerAvailable(): boolean {
    return true;
  }

  override async time(f: () => void): Promise<{ kernelMs: number }> {
    this.device.synchronize();
    const t0 = process.hrtime.bigint();
    f();
    this.device.synchronize();
    return { kernelMs: Number(process.hrtime.bigint() - t0) / 1e6 };
  }

  override floatPrecision(): 32 {
    return 32;
  }

  override epsilon(): number {
    return 1e-7;
  }

  override dispose(): void {
    for (const d of this.store.values()) this.releaseData(d);
    this.store.clear();
    this.device.pool.trim();
  }
}

/** Host values as the device stores them (4-byte words). */
function toWords(values: ArrayBufferView, dtype: tf.DataType, size: number): ArrayBufferView {
  if (dtype === 'float32') return values instanceof Float32Array ? values : Float32Array.from(values as unknown as ArrayLike<number>);
  if (values instanceof Int32Array) return values;
  const v = values as unknown as ArrayLike<number>;
  const out = new Int32Array(size);
  for (let i = 0; i < size; i++) out[i] = dtype === 'bool' ? (v[i] ? 1 : 0) : v[i];
  return out;
}
