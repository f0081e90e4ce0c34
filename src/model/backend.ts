/**
 * TF.js backend selection: `auto | cuda | wasm | cpu | tensorflow | webgpu`.
 * - `cuda`: NVIDIA GPUs through the driver API, cuBLAS and NVRTC (src/cuda/); `--device N` picks
 *   the GPU, `--precision bf16|tf32|f32` the matrix products.
 * - `wasm`: XNNPACK through WebAssembly, single-threaded in Node (data-parallel workers give the
 *   cores; see parallel.ts). The CPU default.
 * - `cpu`: TF.js's pure-JS reference kernels (slow; the reference for the others).
 * - `tensorflow`: libtensorflow via the optional `@tensorflow/tfjs-node-gpu` / `@tensorflow/tfjs-node`
 *   packages, when one is installed.
 * - `webgpu`: `@tensorflow/tfjs-backend-webgpu` on Dawn from the `webgpu` package; needs a GPU
 *   adapter (Vulkan loader + driver on Linux).
 * - `auto`: cuda when a GPU and the CUDA libraries are there, else webgpu when an adapter exists, else
 *   tensorflow when installed, else wasm; the choice and
 *   why are returned so every output can report them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { type BlasChoice, configureMatmul, defaultBlasChoice } from '../blas';
import { cudaAvailability, cudaUnavailableSync } from '../cuda';
import { SilError } from '../errors';
import { installSharedIdentity } from './identity';

import { backendChoice, type BackendChoice, type BackendName } from './choices';

export { BACKEND_CHOICES, type BackendChoice, type BackendName } from './choices';

/** Backends whose tensors live in GPU memory (layer boundaries and sums kept there, GPU memory budget). */
export function isGpuBackend(name: string): boolean {
  return name === 'webgpu' || name === 'cuda';
}

export interface SelectedBackend {
  name: BackendName;
  /** why this one (for `auto`, what was tried) */
  note: string;
  /** what the matrix products run on: the system BLAS (`openblas 0.3.21`) or the backend's own kernels (`wasm`) */
  matmul: string;
  /** one line on `matmul`: the library and its threads, or why the backend's kernels run */
  matmulNote: string;
}

export interface BackendOptions {
  /** matrix products of the wasm backend through the system BLAS: auto (default, `SIL_BLAS`), on, off */
  blas?: BlasChoice;
  /** backend instances in this process sharing the cores (worker threads), for the BLAS's thread count */
  instances?: number;
}

const probes = new Map<BackendName, Promise<string | null>>();

function tryRequire(id: string): unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(id);
}

/**
 * Dawn's native addon inside the `webgpu` package. The package itself is ESM-only; its addon is a
 * plain Node module exporting the same `create` and `globals`, so CommonJS (and jest) can load it.
 */
function loadDawn(): { create(args: string[]): GPU; globals: Record<string, unknown> } {
  const root = path.dirname(require.resolve('webgpu/package.json'));
  const arch = process.platform === 'darwin' ? 'universal' : process.arch;
  return tryRequire(path.join(root, 'dist', `${process.platform}-${arch}`, 'dawn.node')) as ReturnType<typeof loadDawn>;
}

/** Reasons known without starting anything (null: worth probing). */
export function backendUnavailableSync(name: BackendName): string | null {
  if (name === 'cuda') return cudaUnavailableSync();
  if (name === 'tensorflow') {
    const found = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'].some((id) => {
      try {
        require.resolve(id);
        return true;
      } catch {
        return false;
      }
    });
    return found ? null : 'neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed (optional dependencies)';
  }
  if (name === 'webgpu' && process.platform === 'linux') {
    const gpuNodes = ['/dev/dri', '/dev/nvidia0', '/dev/dxg'].some((p) => fs.existsSync(p));
    if (!gpuNodes) return 'no GPU device on this machine (no /dev/dri, /dev/nvidia0 or /dev/dxg)';
  }
  return null;
}

async function probeWebgpu(): Promise<string | null> {
  const early = backendUnavailableSync('webgpu');
  if (early) return early;
  let mod: ReturnType<typeof loadDawn>;
  try {
    mod = loadDawn();
  } catch (e) {
    return `the webgpu package does not load: ${(e as Error).message.split('\n')[0]}`;
  }
  try {
    const g = globalThis as Record<string, unknown>;
    for (const [k, v] of Object.entries(mod.globals)) if (!(k in g)) g[k] = v;
    const gpu = mod.create([]);
    const nav = (g.navigator ?? {}) as Record<string, unknown>;
    if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: nav, configurable: true, writable: true });
    if (!nav.gpu) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true });
    const adapter = await gpu.requestAdapter();
    if (!adapter) return 'no WebGPU adapter (a GPU with a Vulkan loader and driver is needed)';
    tryRequire('@tensorflow/tfjs-backend-webgpu');
    return null;
  } catch (e) {
    return `WebGPU setup failed: ${(e as Error).message.split('\n')[0]}`;
  }
}

async function probeTensorflow(): Promise<string | null> {
  const early = backendUnavailableSync('tensorflow');
  if (early) return early;
  for (const id of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      require.resolve(id);
    } catch {
      continue;
    }
    try {
      tryRequire(id);
      return null;
    } catch (e) {
      return `${id} is installed but does not load: ${(e as Error).message.split('\n')[0]}`;
    }
  }
  return 'no tfjs-node package found';
}

async function probe(name: BackendName): Promise<string | null> {
  switch (name) {
    case 'cpu':
      return null;
    case 'wasm':
      try {
        tryRequire('@tensorflow/tfjs-backend-wasm');
        return null;
      } catch (e) {
        return `@tensorflow/tfjs-backend-wasm does not load: ${(e as Error).message.split('\n')[0]}`;
      }
    case 'tensorflow':
      return probeTensorflow();
    case 'webgpu':
      return probeWebgpu();
    case 'cuda':
      return cudaAvailability();
  }
}

/** null when the backend can be used in this process, else why not. Cached. */
export function backendAvailability(name: BackendName): Promise<string | null> {
  if (!probes.has(name)) probes.set(name, probe(name));
  return probes.get(name)!;
}

/**
 * Makes `choice` the current TF.js backend (resolving `auto`), or throws BACKEND_UNAVAILABLE; on
 * wasm, routes its matrix products through the system BLAS per `opts.blas` (src/blas/).
 */
export async function useBackend(choice: BackendChoice, opts: BackendOptions = {}): Promise<SelectedBackend> {
  backendChoice(choice);
  let name: BackendName;
  let note: string;
  if (choice === 'auto') {
    const tried: string[] = [];
    name = 'wasm';
    for (const n of ['cuda', 'webgpu', 'tensorflow'] as const) {
      const why = await backendAvailability(n);
      if (why === null) {
        name = n;
        break;
      }
      tried.push(`${n}: ${why}`);
    }
    note = name === 'wasm' ? `auto chose wasm (${tried.join('; ')})` : `auto chose ${name}, the fastest available`;
  } else {
    name = choice;
    note = `${name} as requested`;
  }
  const why = await backendAvailability(name);
  if (why !== null) {
    if (name === 'cuda') throw new SilError('CUDA_UNAVAILABLE', `backend cuda is unavailable: ${why}`);
    throw new SilError('BACKEND_UNAVAILABLE', `backend ${name} is unavailable: ${why}`);
  }
  if (tf.getBackend() !== name) {
    const ok = await tf.setBackend(name);
    if (!ok) throw new SilError('BACKEND_UNAVAILABLE', `backend ${name} failed to initialise`);
  }
  await tf.ready();
  // the cpu backend's first upload prints an advert for tfjs-node to stderr; sil's output stays its own
  if (name === 'cpu') (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  if (name === 'wasm') installSharedIdentity();
  const mm = configureMatmul(name, opts.blas ?? defaultBlasChoice(), opts.instances ?? 1);
  return { name, note, matmul: mm.matmul, matmulNote: mm.note };
}
