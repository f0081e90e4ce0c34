/**
 * Finding the CUDA libraries the `cuda` backend loads, in this order (the first folder that has a
 * library wins, per library):
 *   1. SIL_CUDA_LIB_DIR (one folder, or several separated by ':')
 *   2. LD_LIBRARY_PATH
 *   3. /usr/local/cuda/lib64, then /usr/local/cuda-*\/lib64 (newest version first)
 *   4. the nvidia/*\/lib folders of Python site-packages (where PyTorch's wheels put cuBLAS and NVRTC)
 * The driver library libcuda.so.1 comes with the NVIDIA driver and is loaded from the system's
 * library path. Pure over an injected file-system view, so the order is testable without CUDA.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** What each library may be called, preferred first (CUDA 13, then 12). */
export const CUDA_LIBRARIES = {
  cublasLt: ['libcublasLt.so.13', 'libcublasLt.so.12', 'libcublasLt.so'],
  cublas: ['libcublas.so.13', 'libcublas.so.12', 'libcublas.so'],
  nvrtc: ['libnvrtc.so.13', 'libnvrtc.so.12', 'libnvrtc.so'],
} as const;

export type CudaLibrary = keyof typeof CUDA_LIBRARIES;

/** Readable names for messages. */
export const LIBRARY_TITLES: Record<CudaLibrary, string> = {
  cublasLt: 'cuBLASLt',
  cublas: 'cuBLAS',
  nvrtc: 'NVRTC',
};

export interface SearchPlace {
  /** where the folder came from, for messages */
  from: string;
  dir: string;
}

export interface FsView {
  exists(p: string): boolean;
  /** entries of a folder ([] when it is not one) */
  list(dir: string): string[];
}

export const realFs: FsView = {
  exists: (p) => fs.existsSync(p),
  list: (d) => {
    try {
      return fs.readdirSync(d);
    } catch {
      return [];
    }
  },
};

/** cuda-13.0 > cuda-12.8 > cuda-12 */
function versionOrder(a: string, b: string): number {
  const va = (a.match(/\d+/g) ?? []).map(Number);
  const vb = (b.match(/\d+/g) ?? []).map(Number);
  for (let i = 0; i < Math.max(va.length, vb.length); i++) {
    const d = (vb[i] ?? -1) - (va[i] ?? -1);
    if (d !== 0) return d;
  }
  return a.localeCompare(b);
}

/** Python site-packages folders that may exist on this machine. */
export function sitePackagesDirs(env: NodeJS.ProcessEnv, view: FsView, home = os.homedir()): string[] {
  const prefixes = new Set<string>();
  for (const p of [env.VIRTUAL_ENV, env.CONDA_PREFIX, '/usr', '/usr/local', path.join(home, '.local')]) if (p) prefixes.add(p);
  for (const top of ['/opt']) for (const e of view.list(top)) for (const v of ['.venv', 'venv', '']) prefixes.add(path.join(top, e, v));
  const out: string[] = [];
  for (const d of (env.PYTHONPATH ?? '').split(':').filter(Boolean)) out.push(d);
  for (const pre of prefixes) {
    const lib = path.join(pre, 'lib');
    for (const py of view
      .list(lib)
      .filter((n) => /^python3(\.\d+)?$/.test(n))
      .sort(versionOrder)) {
      for (const sp of ['site-packages', 'dist-packages']) {
        const d = path.join(lib, py, sp);
        if (view.exists(d)) out.push(d);
      }
    }
  }
  return [...new Set(out)];
}

/** The folders searched, in order. */
export function searchPlaces(env: NodeJS.ProcessEnv = process.env, view: FsView = realFs): SearchPlace[] {
  const places: SearchPlace[] = [];
  for (const d of (env.SIL_CUDA_LIB_DIR ?? '').split(':').filter(Boolean)) places.push({ from: 'SIL_CUDA_LIB_DIR', dir: d });
  for (const d of (env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean)) places.push({ from: 'LD_LIBRARY_PATH', dir: d });
  const cudas = view.list('/usr/local').filter((n) => n === 'cuda' || n.startsWith('cuda-'));
  cudas.sort((a, b) => (a === 'cuda' ? -1 : b === 'cuda' ? 1 : versionOrder(a, b)));
  for (const c of cudas) places.push({ from: '/usr/local/cuda*/lib64', dir: path.join('/usr/local', c, 'lib64') });
  for (const sp of sitePackagesDirs(env, view)) {
    const nv = path.join(sp, 'nvidia');
    for (const sub of view.list(nv).sort(versionOrder)) {
      const d = path.join(nv, sub, 'lib');
      if (view.exists(d)) places.push({ from: 'site-packages nvidia/*/lib', dir: d });
    }
  }
  return places;
}

export type Discovery = { ok: true; paths: Record<CudaLibrary, string>; places: SearchPlace[] } | { ok: false; missing: CudaLibrary; places: SearchPlace[]; message: string };

/** One line naming the places searched (for CUDA_UNAVAILABLE). */
export function describePlaces(places: SearchPlace[], env: NodeJS.ProcessEnv = process.env): string {
  const parts: string[] = [];
  if (!env.SIL_CUDA_LIB_DIR) parts.push('SIL_CUDA_LIB_DIR (unset)');
  if (!env.LD_LIBRARY_PATH) parts.push('LD_LIBRARY_PATH (unset)');
  if (!places.some((p) => p.from === '/usr/local/cuda*/lib64')) parts.push('/usr/local/cuda*/lib64 (none)');
  if (!places.some((p) => p.from === 'site-packages nvidia/*/lib')) parts.push('site-packages nvidia/*/lib (none)');
  return [...places.map((p) => p.dir), ...parts].join(', ');
}

/** Finds cuBLAS(Lt) and NVRTC: the first place, in search order, that holds each. */
export function discoverCudaLibraries(env: NodeJS.ProcessEnv = process.env, view: FsView = realFs): Discovery {
  const places = searchPlaces(env, view);
  const paths = {} as Record<CudaLibrary, string>;
  for (const lib of Object.keys(CUDA_LIBRARIES) as CudaLibrary[]) {
    let found: string | null = null;
    for (const place of places) {
      const have = (CUDA_LIBRARIES[lib] as readonly string[]).find((n) => view.exists(path.join(place.dir, n)));
      if (have) {
        found = path.join(place.dir, have);
        break;
      }
    }
    if (!found) {
      const message = `${LIBRARY_TITLES[lib]} (${CUDA_LIBRARIES[lib].join(' or ')}) not found; searched ${describePlaces(places, env)}. Install the CUDA toolkit or PyTorch's CUDA wheels, or point SIL_CUDA_LIB_DIR at the folder that holds it`;
      return { ok: false, missing: lib, places, message };
    }
    paths[lib] = found;
  }
  return { ok: true, paths, places };
}

/** Same-folder helper libraries that NVRTC opens by name at compile time (libnvrtc-builtins). */
export function nvrtcBuiltins(nvrtcPath: string, view: FsView = realFs): string | null {
  const dir = path.dirname(nvrtcPath);
  const names = view
    .list(dir)
    .filter((n) => n.startsWith('libnvrtc-builtins.so'))
    .sort(versionOrder);
  return names.length > 0 ? path.join(dir, names[0]) : null;
}
