/**
 * The `cuda` TF.js backend: registration, its options (`--device N`, `--precision bf16|tf32|f32`,
 * also read from SIL_CUDA_DEVICE / SIL_CUDA_PRECISION so worker processes inherit them) and the
 * availability probe behind `--backend cuda` and `auto`.
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { SilError } from '../errors';
import { CudaBackend } from './backend';
import { CudaDevice, type GpuDevice, type Precision, PRECISIONS } from './device';
import { cudaApis } from './ffi';
import { registerCudaKernels } from './ops';

export { CudaBackend } from './backend';
export { cudaFusedOps, type FusedOps } from './fused';
export { cudaLayerForward, cudaLayerVJP, KeptLayer, type LayerShape, type LayerWeights } from './layer';
export { PRECISIONS } from './device';
export type { Precision } from './device';

export interface CudaOptions {
  device: number;
  precision: Precision;
}

export function parsePrecision(p: string | undefined): Precision {
  if (p === undefined || p === '') return 'bf16';
  if (!PRECISIONS.includes(p as Precision)) throw new SilError('INVALID_ARGUMENT', `--precision must be one of ${PRECISIONS.join(', ')}, got ${JSON.stringify(p)}`);
  return p as Precision;
}

export function parseDevice(d: string | number | undefined): number {
  if (d === undefined || d === '') return 0;
  const n = Number(d);
  if (!Number.isInteger(n) || n < 0) throw new SilError('INVALID_ARGUMENT', `--device must be a GPU number (0, 1, …), got ${JSON.stringify(d)}`);
  return n;
}

/** The options in effect: SIL_CUDA_DEVICE and SIL_CUDA_PRECISION (set by --device / --precision). */
export function cudaOptions(env: NodeJS.ProcessEnv = process.env): CudaOptions {
  return { device: parseDevice(env.SIL_CUDA_DEVICE), precision: parsePrecision(env.SIL_CUDA_PRECISION) };
}

/** Sets the options for this process and the workers it starts. */
export function setCudaOptions(o: { device?: string | number; precision?: string }): void {
  if (o.device !== undefined) process.env.SIL_CUDA_DEVICE = String(parseDevice(o.device));
  if (o.precision !== undefined) process.env.SIL_CUDA_PRECISION = parsePrecision(o.precision);
  if (instance) instance.precision = cudaOptions().precision;
}

let instance: CudaBackend | null = null;

/** Reasons known without loading anything (null: worth probing). */
export function cudaUnavailableSync(): string | null {
  if (process.platform !== 'linux') return `the cuda backend runs on Linux (this is ${process.platform})`;
  if (!fs.existsSync('/dev/nvidiactl') && !fs.existsSync('/dev/nvidia0')) return 'no NVIDIA GPU device on this machine (no /dev/nvidia0 or /dev/nvidiactl)';
  return null;
}

/**
 * Sets up the GPU (libraries, context, kernels) and registers the backend, once per process.
 * Throws CUDA_UNAVAILABLE (or INVALID_ARGUMENT for a --device that does not exist).
 */
export function initCuda(): CudaBackend {
  const o = cudaOptions();
  if (instance && instance.device instanceof CudaDevice) {
    if (instance.device.ordinal !== o.device)
      throw new SilError('INVALID_ARGUMENT', `the cuda backend already runs on GPU ${instance.device.ordinal} in this process; --device ${o.device} needs a new process`);
    instance.precision = o.precision;
    return instance;
  }
  cudaApis();
  const device = new CudaDevice(o.device);
  instance = new CudaBackend(device, o.precision);
  registerCudaKernels();
  const b = instance;
  tf.registerBackend('cuda', () => b, -1);
  return instance;
}

/**
 * Registers the backend over a given device (an emulated one in tests) instead of a GPU found here.
 * Replaces an earlier registration.
 */
export function registerCudaBackendOn(device: GpuDevice, precision: Precision = cudaOptions().precision): CudaBackend {
  if (tf.findBackend('cuda')) tf.removeBackend('cuda');
  instance = new CudaBackend(device, precision);
  registerCudaKernels();
  const b = instance;
  tf.registerBackend('cuda', () => b, -1);
  return instance;
}

/** null when the cuda backend can run here, else why not. */
export function cudaAvailability(): string | null {
  try {
    initCuda();
    return null;
  } catch (e) {
    if (e instanceof SilError) return e.message;
    throw e;
  }
}

/** The active cuda backend, or null when another backend is current. */
export function activeCuda(): CudaBackend | null {
  return tf.getBackend() === 'cuda' ? (tf.backend() as CudaBackend) : null;
}
