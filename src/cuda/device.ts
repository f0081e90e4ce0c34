/**
 * One GPU for the `cuda` backend: its primary context (shared with cuBLAS), the memory pool, the
 * NVRTC-compiled kernel module (compiled at first use, cached per process), kernel launches and
 * cuBLAS matrix products. Everything is queued on the default stream, in order.
 */
import { SilError } from '../errors';
import { cudaApis, type CudaApis } from './ffi';
import { KERNEL_NAMES, type KernelName, kernelSource } from './kernels';
import { DevicePool, formatBytes } from './pool';
import { timeline } from './timeline';
import type { Precision } from './precision';

export { PRECISIONS, type Precision } from './precision';

/** cuBLAS / CUDA constants */
const CUDA_R_32F = 0;
export const CUDA_R_16BF = 14;
const CUBLAS_COMPUTE_32F = 68;
const CUBLAS_COMPUTE_32F_FAST_TF32 = 77;
const CUBLAS_GEMM_DEFAULT = -1;
const CU_DEVICE_ATTRIBUTE_CC_MAJOR = 75;
const CU_DEVICE_ATTRIBUTE_CC_MINOR = 76;
const CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
const CUDA_ERROR_OUT_OF_MEMORY = 2;
const CU_EVENT_DISABLE_TIMING = 2;
/** cuBLAS's α and β (host scalars, read during the call) */
const ONE = new Float32Array([1]);
const ZERO = new Float32Array([0]);
/** reads at least this large go through the pinned staging buffers (also their size) */
const STAGE_BYTES = 64 * 2 ** 20;

/** A kernel argument: a device address, a 32-bit int, a 64-bit int, a float, or raw bytes (a struct). */
export type Arg = { p: number } | { i: number } | { l: number } | { f: number } | Buffer;
export const ptr = (p: number): Arg => ({ p });
export const i32 = (i: number): Arg => ({ i });
export const i64 = (l: number): Arg => ({ l });
export const f32 = (f: number): Arg => ({ f });

/** A row-major batched product, as the kernels ask for it. */
export interface GemmRequest {
  a: number;
  b: number;
  c: number;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  batch: number;
  strideA: number;
  strideB: number;
  strideC: number;
  precision: Precision;
  beta?: number;
}

/** The column-major cuBLAS call computing a row-major product (the arguments of cublasGemm*Ex). */
export interface CublasCall {
  transa: 0 | 1;
  transb: 0 | 1;
  m: number;
  n: number;
  k: number;
  A: number;
  lda: number;
  strideA: number;
  B: number;
  ldb: number;
  strideB: number;
  C: number;
  ldc: number;
  strideC: number;
  batch: number;
  dtype: number;
  compute: number;
  beta: number;
}

/**
 * Row-major C[b] = op(A[b]) · op(B[b]) (float32 C), A [m, k] (or [k, m] with transA), B [k, n]
 * (or [n, k] with transB), batch strides in elements (0 = shared). cuBLAS is column-major: a
 * row-major matrix is its transpose there, so this is Cᵀ = op(B)ᵀ · op(A)ᵀ, i.e. cuBLAS's A is our
 * B and its m, n are our n, m. With `bf16` the operands are bfloat16 copies.
 */
export function cublasCall(o: GemmRequest): CublasCall {
  return {
    transa: o.transB ? 1 : 0,
    transb: o.transA ? 1 : 0,
    m: o.n,
    n: o.m,
    k: o.k,
    A: o.b,
    lda: o.transB ? o.k : o.n,
    strideA: o.strideB,
    B: o.a,
    ldb: o.transA ? o.m : o.k,
    strideB: o.strideA,
    C: o.c,
    ldc: o.n,
    strideC: o.strideC,
    batch: o.batch,
    dtype: o.precision === 'bf16' ? CUDA_R_16BF : CUDA_R_32F,
    compute: o.precision === 'tf32' ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F,
    beta: o.beta ?? 0,
  };
}

/** What the backend and its kernels use of a GPU (CudaDevice; tests use an emulation of it). */
export interface GpuDevice {
  readonly name: string;
  readonly ordinal: number;
  readonly multiprocessors: number;
  readonly pool: DevicePool;
  alloc(bytes: number): number;
  release(p: number): void;
  upload(dst: number, src: ArrayBufferView): void;
  download(dst: ArrayBufferView, src: number): void;
  copy(dst: number, src: number, bytes: number): void;
  fill32(dst: number, bits: number, count: number): void;
  launch(name: KernelName, grid: number, block: number, args: Arg[]): void;
  gridFor(n: number, block?: number): number;
  gemm(o: GemmRequest): void;
  synchronize(): void;
  memInfo(): { free: number; total: number };
  describe(): string;
}

export class CudaDevice implements GpuDevice {
  readonly api: CudaApis;
  readonly name: string;
  readonly ordinal: number;
  readonly computeCapability: [number, number];
  readonly multiprocessors: number;
  readonly driverVersion: number;
  readonly pool: DevicePool;
  private readonly blas: unknown;
  private readonly fns = new Map<KernelName, unknown>();
  /** pinned host buffers and their events for large reads (made at the first one) */
  private staging: { bufs: unknown[]; views: Uint8Array[]; events: unknown[] } | null = null;
  /** seconds spent compiling the kernel module */
  compileSeconds = 0;
  launches = 0;
  gemms = 0;

  constructor(ordinal: number) {
    this.api = cudaApis();
    const { cu } = this.api;
    this.check(cu.cuInit(0), 'cuInit', 'CUDA_UNAVAILABLE');
    const count = [0];
    this.check(cu.cuDeviceGetCount(count), 'cuDeviceGetCount', 'CUDA_UNAVAILABLE');
    if (count[0] === 0) throw new SilError('CUDA_UNAVAILABLE', 'the NVIDIA driver reports no GPU');
    if (!Number.isInteger(ordinal) || ordinal < 0 || ordinal >= count[0]) {
      throw new SilError('INVALID_ARGUMENT', `--device ${ordinal} does not exist: this machine has ${count[0]} GPU(s), numbered 0 to ${count[0] - 1}`);
    }
    this.ordinal = ordinal;
    const dev = [0];
    this.check(cu.cuDeviceGet(dev, ordinal), 'cuDeviceGet');
    const nameBuf = Buffer.alloc(256);
    this.check(cu.cuDeviceGetName(nameBuf, 256, dev[0]), 'cuDeviceGetName');
    this.name = nameBuf.toString('utf8', 0, nameBuf.indexOf(0));
    const a = (attr: number) => {
      const v = [0];
      this.check(cu.cuDeviceGetAttribute(v, attr, dev[0]), 'cuDeviceGetAttribute');
      return v[0] as number;
    };
    this.computeCapability = [a(CU_DEVICE_ATTRIBUTE_CC_MAJOR), a(CU_DEVICE_ATTRIBUTE_CC_MINOR)];
    this.multiprocessors = a(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
    const v = [0];
    cu.cuDriverGetVersion(v);
    this.driverVersion = v[0];
    const ctx = [null];
    this.check(cu.cuDevicePrimaryCtxRetain(ctx, dev[0]), 'cuDevicePrimaryCtxRetain');
    this.check(cu.cuCtxSetCurrent(ctx[0]), 'cuCtxSetCurrent');
    this.pool = new DevicePool({
      alloc: (bytes) => {
        const out = [0];
        const r = cu.cuMemAlloc(out, bytes);
        if (r === CUDA_ERROR_OUT_OF_MEMORY) return null;
        this.check(r, `cuMemAlloc(${bytes})`);
        return Number(out[0]);
      },
      free: (p) => this.check(cu.cuMemFree(p), 'cuMemFree'),
      info: () => this.memInfo(),
    });
    const h = [null];
    this.check(this.api.blas.cublasCreate(h), 'cublasCreate');
    this.blas = h[0];
  }

  memInfo(): { free: number; total: number } {
    const f = [0];
    const t = [0];
    this.check(this.api.cu.cuMemGetInfo(f, t), 'cuMemGetInfo');
    return { free: Number(f[0]), total: Number(t[0]) };
  }

  errorName(code: number): string {
    const out = [null];
    try {
      if (this.api.cu.cuGetErrorName(code, out) === 0 && out[0]) return String(out[0]);
    } catch {
      /* fall through */
    }
    return `error ${code}`;
  }

  check(r: number, what: string, code: 'CUDA_ERROR' | 'CUDA_UNAVAILABLE' = 'CUDA_ERROR'): void {
    if (r !== 0) throw new SilError(code, `${what} failed on the GPU: ${this.errorName(r)}`);
  }

  /** Compiles the kernel module with NVRTC (once) and returns the named kernel. */
  fn(name: KernelName): unknown {
    let f = this.fns.get(name);
    if (f) return f;
    this.loadModule();
    f = this.fns.get(name);
    if (!f) throw new SilError('CUDA_ERROR', `kernel ${name} is missing from the compiled module`);
    return f;
  }

  private loadModule(): void {
    const t0 = process.hrtime.bigint();
    const { rtc, cu } = this.api;
    const image = compileModule(this.api, kernelSource(), this.computeCapability);
    const mod = [null];
    this.check(cu.cuModuleLoadData(mod, image), 'cuModuleLoadData');
    for (const n of KERNEL_NAMES) {
      const f = [null];
      this.check(cu.cuModuleGetFunction(f, mod[0], n), `cuModuleGetFunction(${n})`);
      this.fns.set(n, f[0]);
    }
    void rtc;
    this.compileSeconds += Number(process.hrtime.bigint() - t0) / 1e9;
  }

  /** Launches `name` over a 1-D grid (grid-stride kernels take any grid). */
  launch(name: KernelName, grid: number, block: number, args: Arg[]): void {
    const f = this.fn(name);
    const bufs = args.map((a) => {
      if (Buffer.isBuffer(a)) return a;
      const b = Buffer.alloc(8);
      if ('p' in a) b.writeBigUInt64LE(BigInt(a.p));
      else if ('i' in a) b.writeInt32LE(a.i);
      else if ('l' in a) b.writeBigInt64LE(BigInt(a.l));
      else b.writeFloatLE(a.f);
      return b;
    });
    this.launches++;
    const issue = () => this.check(this.api.cu.cuLaunchKernel(f, Math.max(1, grid), 1, 1, block, 1, 1, 0, null, bufs, null), `launch of ${name}`);
    const tl = timeline(this.api);
    if (tl) tl.around(name, 0, issue);
    else issue();
  }

  /** Blocks for an element-wise grid-stride kernel over n elements. */
  gridFor(n: number, block = 256): number {
    return Math.max(1, Math.min(Math.ceil(n / block), this.multiprocessors * 16));
  }

  alloc(bytes: number): number {
    return this.pool.alloc(bytes);
  }

  release(p: number): void {
    this.pool.release(p);
  }

  /**
   * Host → device, queued on the stream: the driver copies the (pageable) source to its staging
   * memory before returning, so `src` may be reused at once, and unlike cuMemcpyHtoD it does not
   * wait for the queued kernels first (every small upload, a scalar constant say, would otherwise
   * drain the GPU's queue and serialise host and device).
   */
  upload(dst: number, src: ArrayBufferView): void {
    if (src.byteLength === 0) return;
    this.check(this.api.cu.cuMemcpyHtoDAsync(dst, src, src.byteLength, null), 'cuMemcpyHtoDAsync');
  }

  /**
   * Device → host. Small reads copy straight into `dst`; reads of STAGE_BYTES and more go through
   * two pinned staging buffers: the GPU's copy of one chunk (cuMemcpyDtoHAsync, full PCIe speed from
   * page-locked memory) overlaps the host's copy of the previous chunk into `dst` (pageable memory
   * would make the driver bounce every byte through its own small staging buffer).
   */
  download(dst: ArrayBufferView, src: number): void {
    const n = dst.byteLength;
    if (n === 0) return;
    const { cu } = this.api;
    if (n < STAGE_BYTES) {
      this.check(cu.cuMemcpyDtoH(dst, src, n), 'cuMemcpyDtoH');
      return;
    }
    const st = this.stagingBuffers();
    const out = new Uint8Array(dst.buffer, dst.byteOffset, n);
    const chunks = Math.ceil(n / STAGE_BYTES);
    const issue = (i: number) => {
      const off = i * STAGE_BYTES;
      const len = Math.min(STAGE_BYTES, n - off);
      this.check(cu.cuMemcpyDtoHAsync(st.bufs[i % 2], src + off, len, null), 'cuMemcpyDtoHAsync');
      this.check(cu.cuEventRecord(st.events[i % 2], null), 'cuEventRecord');
    };
    issue(0);
    for (let i = 0; i < chunks; i++) {
      if (i + 1 < chunks) issue(i + 1);
      this.check(cu.cuEventSynchronize(st.events[i % 2]), 'cuEventSynchronize');
      const off = i * STAGE_BYTES;
      out.set(st.views[i % 2].subarray(0, Math.min(STAGE_BYTES, n - off)), off);
    }
  }

  private stagingBuffers(): { bufs: unknown[]; views: Uint8Array[]; events: unknown[] } {
    if (this.staging) return this.staging;
    const { cu, koffi } = this.api;
    const bufs: unknown[] = [];
    const views: Uint8Array[] = [];
    const events: unknown[] = [];
    for (let k = 0; k < 2; k++) {
      const p = [null];
      this.check(cu.cuMemAllocHost(p, STAGE_BYTES), `cuMemAllocHost(${STAGE_BYTES})`);
      bufs.push(p[0]);
      views.push(new Uint8Array(koffi.view(p[0], STAGE_BYTES) as ArrayBuffer));
      const e = [null];
      this.check(cu.cuEventCreate(e, CU_EVENT_DISABLE_TIMING), 'cuEventCreate');
      events.push(e[0]);
    }
    this.staging = { bufs, views, events };
    return this.staging;
  }

  copy(dst: number, src: number, bytes: number): void {
    if (bytes > 0) this.check(this.api.cu.cuMemcpyDtoD(dst, src, bytes), 'cuMemcpyDtoD');
  }

  fill32(dst: number, bits: number, count: number): void {
    if (count > 0) this.check(this.api.cu.cuMemsetD32(dst, bits >>> 0, count), 'cuMemsetD32');
  }

  synchronize(): void {
    this.check(this.api.cu.cuCtxSynchronize(), 'cuCtxSynchronize');
  }

  /**
   * Row-major batched product C[b] = op(A[b]) · op(B[b]) (float32 C), A [m, k] (or [k, m] with
   * transA), B [k, n] (or [n, k] with transB); batch strides in elements (0 = shared). cuBLAS is
   * column-major, so this computes Cᵀ = op(B)ᵀ · op(A)ᵀ. With `bf16`, a and b are bfloat16 copies.
   */
  gemm(o: GemmRequest): void {
    const tl = timeline(this.api);
    if (tl)
      tl.around(`gemm ${o.m}×${o.n}×${o.k}${o.batch > 1 ? ` ×${o.batch}` : ''} ${o.transA ? 'T' : 'N'}${o.transB ? 'T' : 'N'}${o.beta ? ' β' : ''}`, 2 * o.m * o.n * o.k * o.batch, () =>
        this.product(o),
      );
    else this.product(o);
  }

  private product(o: GemmRequest): void {
    const c = cublasCall(o);
    const alpha = ONE;
    const beta = c.beta === 0 ? ZERO : c.beta === 1 ? ONE : new Float32Array([c.beta]);
    this.gemms++;
    let r: number;
    if (c.batch === 1) {
      r = this.api.blas.cublasGemmEx(this.blas, c.transa, c.transb, c.m, c.n, c.k, alpha, c.A, c.dtype, c.lda, c.B, c.dtype, c.ldb, beta, c.C, CUDA_R_32F, c.ldc, c.compute, CUBLAS_GEMM_DEFAULT);
    } else {
      r = this.api.blas.cublasGemmStridedBatchedEx(
        this.blas,
        c.transa,
        c.transb,
        c.m,
        c.n,
        c.k,
        alpha,
        c.A,
        c.dtype,
        c.lda,
        c.strideA,
        c.B,
        c.dtype,
        c.ldb,
        c.strideB,
        beta,
        c.C,
        CUDA_R_32F,
        c.ldc,
        c.strideC,
        c.batch,
        c.compute,
        CUBLAS_GEMM_DEFAULT,
      );
    }
    if (r !== 0) throw new SilError('CUDA_ERROR', `cuBLAS matrix product ${o.m}×${o.k} · ${o.k}×${o.n} (batch ${o.batch}, ${o.precision}) failed with status ${r}`);
  }

  describe(): string {
    const { total } = this.memInfo();
    return `${this.name} (GPU ${this.ordinal}, compute ${this.computeCapability.join('.')}, ${formatBytes(total)})`;
  }
}

/** NVRTC: CUDA C → a cubin for this GPU's architecture (PTX for the driver to finish if that fails). */
export function compileModule(api: CudaApis, source: string, cc: [number, number]): Buffer {
  const { rtc } = api;
  const prog = [null];
  let r = rtc.nvrtcCreateProgram(prog, source, 'sil_kernels.cu', 0, null, null);
  if (r !== 0) throw new SilError('CUDA_ERROR', `nvrtcCreateProgram failed with status ${r}`);
  const tryArch = (arch: string): number => rtc.nvrtcCompileProgram(prog[0], 2, [`--gpu-architecture=${arch}`, '--std=c++17']);
  try {
    let cubin = true;
    r = tryArch(`sm_${cc[0]}${cc[1]}`);
    if (r !== 0) {
      rtc.nvrtcDestroyProgram(prog);
      rtc.nvrtcCreateProgram(prog, source, 'sil_kernels.cu', 0, null, null);
      cubin = false;
      r = tryArch(`compute_${cc[0]}${cc[1]}`);
    }
    if (r !== 0) {
      const n = [0];
      rtc.nvrtcGetProgramLogSize(prog[0], n);
      const log = Buffer.alloc(Number(n[0]));
      rtc.nvrtcGetProgramLog(prog[0], log);
      throw new SilError('CUDA_ERROR', `NVRTC could not compile the kernels (status ${r}): ${log.toString('utf8').replace(/\0+$/, '').trim().split('\n').join(' | ')}`);
    }
    const n = [0];
    if (cubin) rtc.nvrtcGetCUBINSize(prog[0], n);
    else rtc.nvrtcGetPTXSize(prog[0], n);
    const out = Buffer.alloc(Number(n[0]));
    if (cubin) rtc.nvrtcGetCUBIN(prog[0], out);
    else rtc.nvrtcGetPTX(prog[0], out);
    return out;
  } finally {
    rtc.nvrtcDestroyProgram(prog);
  }
}
