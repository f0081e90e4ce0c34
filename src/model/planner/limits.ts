/**
 * The memory limits every plan is made against, in one place:
 *
 *   WASM_HEAP_BYTES         4 GB    one wasm backend instance's heap (capped by wasm32, never shrinks)
 *   RAM_SHARE               0.8     of the machine's RAM for in-memory model instances
 *   DEVICE_SHARE            0.9     of a GPU's memory for kept weights, sums and the streamed stage
 *   FALLBACK_GPU_BYTES      8 GiB   a GPU's memory when neither the cuda backend nor nvidia-smi says
 *   STREAMED_HEAP_SHARE     0.6     of the wasm heap that one streamed stage is planned to fill
 *                                   (measured use runs above the plan)
 *   DEFAULT_BINDING_BYTES   256 MiB the largest vocabulary-chunk buffer of a streamed pass
 *   GPU_BINDING_BYTES       1 GiB   the same on the GPU backends: WebGPU binds at most 2 GiB per
 *                                   buffer; on cuda, fewer and larger chunks mean fewer host
 *                                   dispatches per pass (the head's were the GPU's idle time)
 *
 * `SIL_DEVICE_MEMORY` (a size such as `40GB`) overrides the device budget. CPU backends keep nothing
 * on a device beyond the planned stage (budget 0): host RAM is the limit there and streaming is
 * the point.
 */
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import { activeCuda } from '../../cuda';
import { SilError } from '../../errors';
import { parseSize } from '../../io/writer';
import type { WeightStorage } from './sizes';

export const WASM_HEAP_BYTES = 4 * 2 ** 30;
export const RAM_SHARE = 0.8;
export const DEVICE_SHARE = 0.9;
export const FALLBACK_GPU_BYTES = 8 * 2 ** 30;
export const STREAMED_HEAP_SHARE = 0.6;
export const DEFAULT_BINDING_BYTES = 256 * 2 ** 20;
export const GPU_BINDING_BYTES = 2 ** 30;

/** The RAM that in-memory model instances may share: RAM_SHARE of `ramBytes`. */
export function ramBudget(ramBytes = os.totalmem()): number {
  return RAM_SHARE * ramBytes;
}

/** The most one in-memory instance may use on `backend`: the wasm heap, else the RAM budget. */
export function instanceCap(backend: string, ramBytes = os.totalmem()): number {
  return backend === 'wasm' ? WASM_HEAP_BYTES : ramBudget(ramBytes);
}

/** The largest vocabulary-chunk buffer of a streamed pass on `backend`. */
export function bindingBytes(backend: string): number {
  return backend === 'webgpu' || backend === 'cuda' ? GPU_BINDING_BYTES : DEFAULT_BINDING_BYTES;
}

function nvidiaMemoryBytes(): number | null {
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=memory.total', '--format=csv,noheader,nounits'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
    const mib = Number(out.trim().split('\n')[0]);
    return Number.isFinite(mib) && mib > 0 ? mib * 2 ** 20 : null;
  } catch {
    return null;
  }
}

export interface DeviceBudget {
  bytes: number;
  /** where the number comes from, for the printed plan */
  from: string;
}

/**
 * How much memory the backend may use for kept weights and sums: `SIL_DEVICE_MEMORY` when set; on
 * cuda DEVICE_SHARE of the device's memory; on webgpu DEVICE_SHARE of the first NVIDIA GPU's memory
 * as `nvidia-smi` reports it (WebGPU itself does not tell), or FALLBACK_GPU_BYTES; 0 on CPU backends.
 */
export function deviceBudget(backend: string, env: NodeJS.ProcessEnv = process.env): DeviceBudget {
  const set = env.SIL_DEVICE_MEMORY;
  if (set !== undefined && set !== '') {
    try {
      return { bytes: parseSize(set), from: 'SIL_DEVICE_MEMORY' };
    } catch {
      throw new SilError('INVALID_ARGUMENT', `SIL_DEVICE_MEMORY must be a size such as 40GB, got ${JSON.stringify(set)}`);
    }
  }
  if (backend === 'cuda') {
    const b = activeCuda();
    if (b) return { bytes: Math.floor(DEVICE_SHARE * b.device.memInfo().total), from: `90% of the memory of ${b.device.name}` };
  }
  if (backend !== 'webgpu' && backend !== 'cuda') return { bytes: 0, from: `${backend} backend (host memory)` };
  const gpu = nvidiaMemoryBytes();
  return gpu ? { bytes: Math.floor(DEVICE_SHARE * gpu), from: '90% of the GPU memory nvidia-smi reports' } : { bytes: FALLBACK_GPU_BYTES, from: 'default for an unknown GPU' };
}

/**
 * `--weight-cache` as bytes: a size, or `auto` (default) = what the budget leaves after the
 * planned peak of one streamed stage (`stageBytes`) and any other kept bytes (`reservedBytes`).
 */
export function weightCacheBytes(option: string | undefined, backend: string, stageBytes: number, reservedBytes = 0): number {
  if (option !== undefined && option !== 'auto') return option === '0' ? 0 : parseSize(option);
  const b = deviceBudget(backend);
  return Math.max(0, b.bytes - stageBytes - reservedBytes);
}

/**
 * How `backend` holds the weights of a checkpoint whose matrix weights are stored as `dtype`, for
 * the device plans: the active cuda backend's rule under its `--precision`
 * (`residentBytesPerElement`, cuda/precision.ts), else undefined (float32, 4 bytes per parameter).
 */
export function cudaWeightStorage(backend: string, dtype: string | undefined): WeightStorage | undefined {
  const b = backend === 'cuda' ? activeCuda() : null;
  return b ? { precision: b.precision, dtype } : undefined;
}
