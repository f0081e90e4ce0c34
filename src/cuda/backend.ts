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
  /** device address (0 for an empty tensor) */
  ptr: number;
  size: number;
  dtype: tf.DataType;
  refCount: number;
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
    const ptr = size > 0 ? this.device.alloc(size * 4) : 0;
    this.store.set(id, { ptr, size, dtype, refCount });
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

  ptr(t: tf.TensorInfo): number {
    return this.get(t.dataId).ptr;
  }

  has(dataId: DataId): boolean {
    return this.store.has(dataId);
  }

  override readSync(dataId: DataId): tf.backend_util.BackendValues {
    const d = this.get(dataId);
    const words = d.dtype === 'float32' ? new Float32Array(d.size) : new Int32Array(d.size);
    if (d.size > 0) this.device.download(words, d.ptr);
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
    if (d.ptr) this.device.release(d.ptr);
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
    for (const d of this.store.values()) if (d.ptr) this.device.release(d.ptr);
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
