/**
 * The system BLAS, found and bound at run time with koffi (a C FFI for Node; nothing is compiled).
 *
 * Only single-precision GEMM is bound, in the CBLAS calling convention:
 *   C ← α · op(A) · op(B) + β · C,   op(X) = X or Xᵀ,   row-major, 32-bit integer sizes (LP64)
 * on pointers the caller hands in as Float32Arrays (koffi passes a typed array's own memory, so a
 * view into the wasm heap is multiplied where it lies, without copies).
 *
 * Where the library comes from, first found wins:
 *   1. `SIL_BLAS_LIB`: a path or soname of any library exporting `cblas_sgemm`;
 *   2. Apple's Accelerate framework (macOS);
 *   3. Intel MKL's single dynamic library (`libmkl_rt`);
 *   4. OpenBLAS (`libopenblas.so.0`, Debian's `libopenblas0-pthread`; `libopenblas.dylib`,
 *      `libopenblas.dll`).
 * koffi itself is loaded only here and only when asked, so a machine without it, or without any
 * BLAS, runs on the backends' own kernels: `loadBlas()` then returns null and `blasUnavailable()`
 * says why, in one line.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const CBLAS_ROW_MAJOR = 101;
export const CBLAS_NO_TRANS = 111;
export const CBLAS_TRANS = 112;

export type Sgemm = (
  order: number,
  transA: number,
  transB: number,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
  beta: number,
  c: Float32Array,
  ldc: number,
) => void;

export interface BlasLibrary {
  /** short name with version where the library reports one: `openblas 0.3.21`, `mkl 2024.0.0`, `accelerate` */
  name: string;
  /** what was loaded (path or soname) */
  file: string;
  /** the library's own description (OpenBLAS's build configuration, MKL's version string), or '' */
  detail: string;
  sgemm: Sgemm;
  /** Sets the library's thread count for later calls (process-wide); false when it has no such setting. */
  setThreads(n: number): boolean;
  /** The library's current thread count, or null when it cannot say. */
  threads(): number | null;
}

interface Koffi {
  load(file: string): KoffiLib;
}
interface KoffiLib {
  func(signature: string): (...args: unknown[]) => unknown;
  unload?(): void;
}

const SGEMM_SIGNATURE = 'void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha, float *a, int lda, float *b, int ldb, float beta, float *c, int ldc)';

interface Candidate {
  kind: 'env' | 'accelerate' | 'mkl' | 'openblas';
  file: string;
}

/** Where to look, in order (see the module comment). */
export function blasCandidates(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): Candidate[] {
  const out: Candidate[] = [];
  if (env.SIL_BLAS_LIB) return [{ kind: 'env', file: env.SIL_BLAS_LIB }];
  if (platform === 'darwin') {
    out.push({ kind: 'accelerate', file: '/System/Library/Frameworks/Accelerate.framework/Accelerate' });
    out.push({ kind: 'openblas', file: 'libopenblas.dylib' });
    for (const prefix of ['/opt/homebrew/opt/openblas/lib', '/usr/local/opt/openblas/lib']) out.push({ kind: 'openblas', file: path.join(prefix, 'libopenblas.dylib') });
    return out;
  }
  if (platform === 'win32') {
    out.push({ kind: 'mkl', file: 'mkl_rt.2.dll' }, { kind: 'openblas', file: 'libopenblas.dll' });
    return out;
  }
  out.push({ kind: 'mkl', file: 'libmkl_rt.so.2' }, { kind: 'mkl', file: 'libmkl_rt.so' });
  out.push({ kind: 'openblas', file: 'libopenblas.so.0' }, { kind: 'openblas', file: 'libopenblas.so' });
  return out;
}

let cached: { lib: BlasLibrary | null; why: string | null } | null = null;

/**
 * The OpenBLAS kernel family for this x86-64 CPU, from its feature flags: `SkylakeX` (AVX-512 F,
 * CD, BW, DQ, VL), `Haswell` (AVX2 + FMA), `Sandybridge` (AVX), or null (other CPUs, other
 * systems). OpenBLAS builds with DYNAMIC_ARCH pick their kernels by CPU model, and a release older
 * than the CPU falls back to its generic `Prescott` kernels (SSE3): Debian 12's 0.3.21 on Emerald
 * Rapids multiplies at a quarter of the AVX-512 kernels' speed. `OPENBLAS_CORETYPE` chooses the
 * family by name instead.
 */
export function openblasCoretype(cpuinfo: string | null = readCpuinfo()): string | null {
  if (!cpuinfo) return null;
  const line = /^flags\s*:(.*)$/m.exec(cpuinfo)?.[1];
  if (!line) return null;
  const f = new Set(line.trim().split(/\s+/));
  if (['avx512f', 'avx512cd', 'avx512bw', 'avx512dq', 'avx512vl'].every((x) => f.has(x))) return 'SkylakeX';
  if (f.has('avx2') && f.has('fma')) return 'Haswell';
  if (f.has('avx')) return 'Sandybridge';
  return null;
}

function readCpuinfo(): string | null {
  if (process.platform !== 'linux' || process.arch !== 'x64') return null;
  try {
    return fs.readFileSync('/proc/cpuinfo', 'latin1');
  } catch {
    return null;
  }
}

/**
 * Sets OPENBLAS_CORETYPE (unless the user did) in the C environment, where OpenBLAS reads it when
 * it loads: through libc, since a worker thread's `process.env` is its own copy. Returns the value
 * set, or null.
 */
function chooseOpenblasCoretype(koffi: Koffi): string | null {
  if (process.env.OPENBLAS_CORETYPE) return null;
  const core = openblasCoretype();
  if (!core) return null;
  try {
    koffi.load('libc.so.6').func('int setenv(const char *name, const char *value, int overwrite)')('OPENBLAS_CORETYPE', core, 0);
    return core;
  } catch {
    return null;
  }
}

function loadKoffi(): Koffi {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('koffi') as Koffi;
}

/** Trims a C string result (koffi returns `char *` as a JS string). */
function cstr(v: unknown): string {
  return typeof v === 'string' ? v.trim() : '';
}

function bindOpenblas(lib: KoffiLib, file: string, sgemm: Sgemm, coretype: string | null): BlasLibrary {
  let detail = '';
  try {
    detail = cstr(lib.func('char *openblas_get_config(void)')());
  } catch {
    detail = '';
  }
  if (coretype) detail += ` (OPENBLAS_CORETYPE=${coretype} from the CPU's flags)`;
  const version = /OpenBLAS\s+([0-9][0-9.]*[0-9a-z.]*)/i.exec(detail)?.[1];
  let set: ((n: number) => unknown) | null = null;
  let get: (() => unknown) | null = null;
  try {
    set = lib.func('void openblas_set_num_threads(int n)');
    get = lib.func('int openblas_get_num_threads(void)');
  } catch {
    set = null;
  }
  return {
    name: version ? `openblas ${version}` : 'openblas',
    file,
    detail,
    sgemm,
    setThreads: (n) => (set ? (set(Math.max(1, Math.floor(n))), true) : false),
    threads: () => (get ? Number(get()) : null),
  };
}

function bindMkl(lib: KoffiLib, file: string, sgemm: Sgemm): BlasLibrary {
  let detail = '';
  try {
    const buf = Buffer.alloc(256);
    lib.func('void MKL_Get_Version_String(uint8_t *buf, int len)')(buf, buf.length);
    detail = buf
      .toString('latin1')
      .replace(/\0[\s\S]*$/, '')
      .trim();
  } catch {
    detail = '';
  }
  const version = /Version\s+([0-9][0-9.]*)/i.exec(detail)?.[1] ?? /(\d{4}\.\d+(?:\.\d+)?)/.exec(detail)?.[1];
  let set: ((n: number) => unknown) | null = null;
  let get: (() => unknown) | null = null;
  try {
    set = lib.func('void MKL_Set_Num_Threads(int n)');
    get = lib.func('int MKL_Get_Max_Threads(void)');
  } catch {
    set = null;
  }
  return {
    name: version ? `mkl ${version}` : 'mkl',
    file,
    detail,
    sgemm,
    setThreads: (n) => (set ? (set(Math.max(1, Math.floor(n))), true) : false),
    threads: () => (get ? Number(get()) : null),
  };
}

function bindPlain(name: string, file: string, sgemm: Sgemm): BlasLibrary {
  return { name, file, detail: '', sgemm, setThreads: () => false, threads: () => null };
}

/** Opens one candidate: the library, `cblas_sgemm`, and its family's version and thread calls. */
function open(koffi: Koffi, c: Candidate): BlasLibrary {
  const coretype = c.kind === 'openblas' || c.kind === 'env' ? chooseOpenblasCoretype(koffi) : null;
  // OpenBLAS starts its thread pool when it loads; a pool left running kept an interrupted process
  // from exiting. It starts with none (one thread: the caller's) and grows only where more are set.
  if ((c.kind === 'openblas' || c.kind === 'env') && !process.env.OPENBLAS_NUM_THREADS) {
    try {
      koffi.load('libc.so.6').func('int setenv(const char *name, const char *value, int overwrite)')('OPENBLAS_NUM_THREADS', '1', 0);
    } catch {
      // not glibc: the pool starts as OpenBLAS decides
    }
  }
  const lib = koffi.load(c.file);
  const sgemm = lib.func(SGEMM_SIGNATURE) as unknown as Sgemm;
  // SIL_BLAS_LIB may name any of the families: recognise them by their own entry points
  const has = (sig: string) => {
    try {
      lib.func(sig);
      return true;
    } catch {
      return false;
    }
  };
  if (c.kind === 'openblas' || (c.kind === 'env' && has('char *openblas_get_config(void)'))) return bindOpenblas(lib, c.file, sgemm, coretype);
  if (c.kind === 'mkl' || (c.kind === 'env' && has('void MKL_Set_Num_Threads(int n)'))) return bindMkl(lib, c.file, sgemm);
  if (c.kind === 'accelerate') return bindPlain('accelerate', c.file, sgemm);
  return bindPlain(`blas ${path.basename(c.file)}`, c.file, sgemm);
}

function firstLine(e: unknown): string {
  return ((e as Error)?.message ?? String(e)).split('\n')[0];
}

function discover(): { lib: BlasLibrary | null; why: string | null } {
  let koffi: Koffi;
  try {
    koffi = loadKoffi();
  } catch (e) {
    return { lib: null, why: `koffi does not load (${firstLine(e)})` };
  }
  const tried: string[] = [];
  for (const c of blasCandidates()) {
    if (path.isAbsolute(c.file) && !fs.existsSync(c.file)) {
      tried.push(`${c.file}: no such file`);
      continue;
    }
    try {
      return { lib: open(koffi, c), why: null };
    } catch (e) {
      tried.push(`${c.file}: ${firstLine(e)}`);
    }
  }
  const hint = process.platform === 'linux' ? '; on Debian/Ubuntu: apt-get install libopenblas0-pthread' : '';
  return { lib: null, why: `no BLAS found (${tried.join('; ')})${hint}` };
}

/** The system BLAS, or null when none loads (see `blasUnavailable`). Found once per thread. */
export function loadBlas(): BlasLibrary | null {
  if (!cached) cached = discover();
  return cached.lib;
}

/** null when `loadBlas()` gives a library, else why not (one line). */
export function blasUnavailable(): string | null {
  if (!cached) cached = discover();
  return cached.why;
}

/** Forgets the discovery so the next call looks again (tests that change `SIL_BLAS_LIB`). */
export function resetBlasDiscovery(): void {
  cached = null;
}
