/**
 * koffi bindings to the three CUDA libraries the `cuda` backend uses: the driver API (libcuda.so.1,
 * from the NVIDIA driver), cuBLAS and NVRTC (found by discover.ts). Device addresses cross the
 * boundary as integers (CUdeviceptr is a 64-bit integer; cuBLAS's `void *` operands are declared
 * as uint64 here, the same in the x86-64 / aarch64 calling conventions).
 */
import { SilError } from '../errors';
import { type CudaLibrary, discoverCudaLibraries, LIBRARY_TITLES, nvrtcBuiltins } from './discover';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Fn = (...args: any[]) => any;

export interface DriverApi {
  cuInit: Fn;
  cuDriverGetVersion: Fn;
  cuDeviceGetCount: Fn;
  cuDeviceGet: Fn;
  cuDeviceGetName: Fn;
  cuDeviceGetAttribute: Fn;
  cuDevicePrimaryCtxRetain: Fn;
  cuCtxSetCurrent: Fn;
  cuCtxSynchronize: Fn;
  cuMemAlloc: Fn;
  cuMemFree: Fn;
  cuMemAllocHost: Fn;
  cuMemFreeHost: Fn;
  cuMemcpyHtoD: Fn;
  cuMemcpyHtoDAsync: Fn;
  cuMemcpyDtoH: Fn;
  cuMemcpyDtoHAsync: Fn;
  cuMemcpyDtoD: Fn;
  cuMemsetD32: Fn;
  cuMemGetInfo: Fn;
  cuModuleLoadData: Fn;
  cuModuleGetFunction: Fn;
  cuLaunchKernel: Fn;
  cuGetErrorName: Fn;
  cuEventCreate: Fn;
  cuEventRecord: Fn;
  cuEventSynchronize: Fn;
  cuEventElapsedTime: Fn;
}

export interface CublasApi {
  cublasCreate: Fn;
  cublasSetMathMode: Fn;
  cublasGemmEx: Fn;
  cublasGemmStridedBatchedEx: Fn;
}

export interface NvrtcApi {
  nvrtcVersion: Fn;
  nvrtcCreateProgram: Fn;
  nvrtcCompileProgram: Fn;
  nvrtcGetProgramLogSize: Fn;
  nvrtcGetProgramLog: Fn;
  nvrtcGetCUBINSize: Fn;
  nvrtcGetCUBIN: Fn;
  nvrtcGetPTXSize: Fn;
  nvrtcGetPTX: Fn;
  nvrtcDestroyProgram: Fn;
}

export interface CudaApis {
  koffi: any;
  cu: DriverApi;
  blas: CublasApi;
  rtc: NvrtcApi;
  paths: Record<CudaLibrary, string> & { driver: string };
}

let loaded: CudaApis | null = null;
let failure: SilError | null = null;

function unavailable(message: string): SilError {
  return new SilError('CUDA_UNAVAILABLE', message);
}

function loadDriver(koffi: any): { api: DriverApi; lib: any } {
  let lib: any;
  try {
    lib = koffi.load('libcuda.so.1');
  } catch (e) {
    throw unavailable(`the NVIDIA driver library libcuda.so.1 could not be loaded from the system library path (${(e as Error).message.split('\n')[0]}); an NVIDIA GPU and its driver are needed`);
  }
  const f = (sig: string) => lib.func(sig);
  const api: DriverApi = {
    cuInit: f('int cuInit(uint flags)'),
    cuDriverGetVersion: f('int cuDriverGetVersion(_Out_ int *v)'),
    cuDeviceGetCount: f('int cuDeviceGetCount(_Out_ int *n)'),
    cuDeviceGet: f('int cuDeviceGet(_Out_ int *d, int ordinal)'),
    cuDeviceGetName: f('int cuDeviceGetName(_Out_ uint8_t *name, int len, int dev)'),
    cuDeviceGetAttribute: f('int cuDeviceGetAttribute(_Out_ int *v, int attr, int dev)'),
    cuDevicePrimaryCtxRetain: f('int cuDevicePrimaryCtxRetain(_Out_ void **ctx, int dev)'),
    cuCtxSetCurrent: f('int cuCtxSetCurrent(void *ctx)'),
    cuCtxSynchronize: f('int cuCtxSynchronize()'),
    cuMemAlloc: f('int cuMemAlloc_v2(_Out_ uint64_t *p, size_t n)'),
    cuMemFree: f('int cuMemFree_v2(uint64_t p)'),
    cuMemAllocHost: f('int cuMemAllocHost_v2(_Out_ void **p, size_t n)'),
    cuMemFreeHost: f('int cuMemFreeHost(void *p)'),
    cuMemcpyHtoD: f('int cuMemcpyHtoD_v2(uint64_t dst, const void *src, size_t n)'),
    cuMemcpyHtoDAsync: f('int cuMemcpyHtoDAsync_v2(uint64_t dst, const void *src, size_t n, void *stream)'),
    cuMemcpyDtoH: f('int cuMemcpyDtoH_v2(_Out_ void *dst, uint64_t src, size_t n)'),
    cuMemcpyDtoHAsync: f('int cuMemcpyDtoHAsync_v2(void *dst, uint64_t src, size_t n, void *stream)'),
    cuMemcpyDtoD: f('int cuMemcpyDtoD_v2(uint64_t dst, uint64_t src, size_t n)'),
    cuMemsetD32: f('int cuMemsetD32_v2(uint64_t dst, uint32_t v, size_t n)'),
    cuMemGetInfo: f('int cuMemGetInfo_v2(_Out_ size_t *free, _Out_ size_t *total)'),
    cuModuleLoadData: f('int cuModuleLoadData(_Out_ void **m, const uint8_t *img)'),
    cuModuleGetFunction: f('int cuModuleGetFunction(_Out_ void **fn, void *m, const char *name)'),
    cuLaunchKernel: f('int cuLaunchKernel(void *f, uint gx, uint gy, uint gz, uint bx, uint by, uint bz, uint smem, void *stream, void **params, void **extra)'),
    cuGetErrorName: f('int cuGetErrorName(int err, _Out_ const char **name)'),
    cuEventCreate: f('int cuEventCreate(_Out_ void **e, uint flags)'),
    cuEventRecord: f('int cuEventRecord(void *e, void *stream)'),
    cuEventSynchronize: f('int cuEventSynchronize(void *e)'),
    cuEventElapsedTime: f('int cuEventElapsedTime(_Out_ float *ms, void *start, void *end)'),
  };
  return { api, lib };
}

function loadLibrary(koffi: any, lib: CudaLibrary, file: string): any {
  try {
    return koffi.load(file);
  } catch (e) {
    throw unavailable(`${LIBRARY_TITLES[lib]} was found at ${file} but does not load (${(e as Error).message.split('\n')[0]})`);
  }
}

/** Loads the libraries once per process; throws CUDA_UNAVAILABLE naming what is missing. */
export function cudaApis(env: NodeJS.ProcessEnv = process.env): CudaApis {
  if (loaded) return loaded;
  if (failure) throw failure;
  try {
    if (process.platform !== 'linux') throw unavailable(`the cuda backend runs on Linux (this is ${process.platform})`);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const koffi = require('koffi');
    const { api: cu } = loadDriver(koffi);
    const found = discoverCudaLibraries(env);
    if (!found.ok) throw unavailable(found.message);
    loadLibrary(koffi, 'cublasLt', found.paths.cublasLt);
    const cublas = loadLibrary(koffi, 'cublas', found.paths.cublas);
    const builtins = nvrtcBuiltins(found.paths.nvrtc);
    if (builtins) {
      try {
        koffi.load(builtins);
      } catch {
        /* NVRTC then finds its builtins itself, or says so when compiling */
      }
    }
    const nvrtc = loadLibrary(koffi, 'nvrtc', found.paths.nvrtc);
    const b = (sig: string) => cublas.func(sig);
    const blas: CublasApi = {
      cublasCreate: b('int cublasCreate_v2(_Out_ void **h)'),
      cublasSetMathMode: b('int cublasSetMathMode(void *h, int mode)'),
      cublasGemmEx: b(
        'int cublasGemmEx(void *h, int ta, int tb, int m, int n, int k, const float *alpha, uint64_t A, int At, int lda, uint64_t B, int Bt, int ldb, const float *beta, uint64_t C, int Ct, int ldc, int compute, int algo)',
      ),
      cublasGemmStridedBatchedEx: b(
        'int cublasGemmStridedBatchedEx(void *h, int ta, int tb, int m, int n, int k, const float *alpha, uint64_t A, int At, int lda, int64_t sA, uint64_t B, int Bt, int ldb, int64_t sB, const float *beta, uint64_t C, int Ct, int ldc, int64_t sC, int batch, int compute, int algo)',
      ),
    };
    const r = (sig: string) => nvrtc.func(sig);
    const rtc: NvrtcApi = {
      nvrtcVersion: r('int nvrtcVersion(_Out_ int *major, _Out_ int *minor)'),
      nvrtcCreateProgram: r('int nvrtcCreateProgram(_Out_ void **prog, const char *src, const char *name, int n, void *h, void *i)'),
      nvrtcCompileProgram: r('int nvrtcCompileProgram(void *prog, int n, const char **opts)'),
      nvrtcGetProgramLogSize: r('int nvrtcGetProgramLogSize(void *prog, _Out_ size_t *n)'),
      nvrtcGetProgramLog: r('int nvrtcGetProgramLog(void *prog, _Out_ uint8_t *log)'),
      nvrtcGetCUBINSize: r('int nvrtcGetCUBINSize(void *prog, _Out_ size_t *n)'),
      nvrtcGetCUBIN: r('int nvrtcGetCUBIN(void *prog, _Out_ uint8_t *bin)'),
      nvrtcGetPTXSize: r('int nvrtcGetPTXSize(void *prog, _Out_ size_t *n)'),
      nvrtcGetPTX: r('int nvrtcGetPTX(void *prog, _Out_ uint8_t *ptx)'),
      nvrtcDestroyProgram: r('int nvrtcDestroyProgram(void **prog)'),
    };
    loaded = { koffi, cu, blas, rtc, paths: { ...found.paths, driver: 'libcuda.so.1' } };
    return loaded;
  } catch (e) {
    failure = e instanceof SilError ? e : unavailable(`CUDA could not be set up: ${(e as Error).message.split('\n')[0]}`);
    throw failure;
  }
}
