/**
 * Matrix products through the system BLAS, for the wasm backend (library.ts finds and binds the
 * library, kernels.ts replaces the backend's product kernels).
 *
 * `--blas auto` (the default) uses a BLAS when one loads and the backend's own kernels otherwise;
 * `on` requires one; `off` keeps the backend's kernels (to compare). Every run records what its
 * products went through as `matmul`: the library (`openblas 0.3.21`), or the backend's name.
 *
 * Threads: the wasm backend is single-threaded, and sil runs one instance per worker thread, one
 * worker per core; the BLAS's thread count is process-wide and set to one, so that workers and BLAS
 * threads do not oversubscribe the cores (one worker with two BLAS threads measured slower than two
 * workers with one). `SIL_BLAS_THREADS` sets more (OpenBLAS then starts its thread pool).
 */
import { SilError } from '../errors';
import { blasMatmul, setBlasMatmul } from './kernels';
import { blasUnavailable, loadBlas } from './library';

export { blasCounters, blasMatmul } from './kernels';
export { blasUnavailable, loadBlas, openblasCoretype } from './library';
export type { BlasLibrary } from './library';

export type BlasChoice = 'auto' | 'on' | 'off';
export const BLAS_CHOICES: BlasChoice[] = ['auto', 'on', 'off'];

export interface MatmulChoice {
  /** what the products run on: the BLAS (`openblas 0.3.21`, `mkl …`, `accelerate`) or the backend's name */
  matmul: string;
  /** one line: the library and its threads, or why the backend's own kernels run */
  note: string;
}

/** `--blas` from the environment (`SIL_BLAS`), `auto` when unset. */
export function defaultBlasChoice(env: NodeJS.ProcessEnv = process.env): BlasChoice {
  const v = env.SIL_BLAS;
  return v === 'on' || v === 'off' ? v : 'auto';
}

export function parseBlasChoice(v: string | undefined, flag = '--blas'): BlasChoice {
  if (v === undefined) return defaultBlasChoice();
  if ((BLAS_CHOICES as string[]).includes(v)) return v as BlasChoice;
  throw new SilError('INVALID_ARGUMENT', `${flag} must be one of ${BLAS_CHOICES.join(', ')}, got ${JSON.stringify(v)}`);
}

/** BLAS threads for `instances` single-threaded backend instances sharing this machine's cores. */
export function blasThreadsFor(instances: number, env: NodeJS.ProcessEnv = process.env): number {
  const forced = Number(env.SIL_BLAS_THREADS);
  if (Number.isInteger(forced) && forced > 0) return forced;
  // one thread per instance (measured faster than fewer workers with more BLAS threads); more would
  // start OpenBLAS's thread pool, which kept interrupted runs from exiting: SIL_BLAS_THREADS opts in
  void instances;
  return 1;
}

/**
 * Routes the current backend's products through the BLAS or not, per `choice`, and says which.
 * Only the wasm backend is routed; the others keep their kernels (`matmul` is their name).
 * `instances`: how many backend instances in this process share the cores (worker threads).
 */
export function configureMatmul(backend: string, choice: BlasChoice, instances = 1): MatmulChoice {
  if (backend !== 'wasm') {
    if (blasMatmul()) setBlasMatmul(null);
    if (choice === 'on') throw new SilError('UNSUPPORTED_OPTION', `--blas on: the BLAS serves the wasm backend's products, not the ${backend} backend's`);
    return { matmul: backend, note: `${backend} kernels` };
  }
  if (choice === 'off') {
    setBlasMatmul(null);
    return { matmul: 'wasm', note: 'wasm kernels (--blas off)' };
  }
  const lib = loadBlas();
  if (!lib) {
    setBlasMatmul(null);
    const why = blasUnavailable()!;
    if (choice === 'on') throw new SilError('BACKEND_UNAVAILABLE', `--blas on: ${why}`);
    return { matmul: 'wasm', note: `wasm kernels: ${why}` };
  }
  const threads = blasThreadsFor(instances);
  const set = lib.setThreads(threads);
  setBlasMatmul(lib);
  const per = instances > 1 ? ` per worker × ${instances} workers` : '';
  const t = set ? `${threads} thread${threads === 1 ? '' : 's'}${per}` : 'its own threads';
  return { matmul: lib.name, note: `${lib.name} (${lib.file}${lib.detail ? `: ${lib.detail}` : ''}), ${t}` };
}
