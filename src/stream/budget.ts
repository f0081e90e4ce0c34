/**
 * How much memory the backend may use for kept weights and sums: `SIL_DEVICE_MEMORY` (a size such
 * as `40GB`) when set; on webgpu otherwise 90% of the first NVIDIA GPU's memory as `nvidia-smi`
 * reports it (WebGPU itself does not tell), or 8 GiB when that is not available. CPU backends keep
 * nothing beyond the planned stage (0): host RAM is the limit there and streaming is the point.
 */
import { execFileSync } from 'node:child_process';
import { activeCuda } from '../cuda';
import { SilError } from '../errors';
import { parseSize } from '../io/writer';
import type { ModelConfig } from '../model/config';
import { WASM_HEAP_BYTES } from '../model/memory';
import { sequencesPerStreamedGroup } from './plan';

export { WASM_HEAP_BYTES };

const FALLBACK_GPU_BYTES = 8 * 2 ** 30;

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
    if (b) return { bytes: Math.floor(0.9 * b.device.memInfo().total), from: `90% of the memory of ${b.device.name}` };
  }
  if (backend !== 'webgpu' && backend !== 'cuda') return { bytes: 0, from: `${backend} backend (host memory)` };
  const gpu = nvidiaMemoryBytes();
  return gpu ? { bytes: Math.floor(0.9 * gpu), from: '90% of the GPU memory nvidia-smi reports' } : { bytes: FALLBACK_GPU_BYTES, from: 'default for an unknown GPU' };
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
 * Sequences per group of a streamed pass when not given: on wasm the most that one heap allows
 * (`sequencesPerStreamedGroup`), elsewhere the whole batch.
 */
export function defaultSequencesPerGroup(cfg: ModelConfig, backend: string, batch: number, seqLen: number): number {
  return backend === 'wasm' ? sequencesPerStreamedGroup(cfg, batch, seqLen, WASM_HEAP_BYTES) : batch;
}
