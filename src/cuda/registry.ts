/**
 * Registration of the `cuda` backend's TF.js kernels: `reg` (ops.ts and fused.ts register through
 * it; SIL_CUDA_PROFILE=1 times each call), and the cpu-backend fallback for every kernel not
 * registered so. Fallbacks are counted per kernel name in `CudaBackend.fallbacks`.
 */
import * as tf from '@tensorflow/tfjs';
import { type CudaBackend } from './backend';
import { resetTimeline } from './timeline';

type Info = tf.TensorInfo;
type Attrs = Record<string, unknown>;
type KernelArgs = { inputs: Record<string, Info>; backend: tf.KernelBackend; attrs?: Attrs };

const BACKEND = 'cuda';

function be(b: tf.KernelBackend): CudaBackend {
  return b as CudaBackend;
}

const implemented = new Set<string>();

/**
 * SIL_CUDA_PROFILE=1: every kernel synchronises the GPU and its time is summed per TF.js kernel
 * name (with the shapes of the costliest ones); the table is printed to stderr at exit.
 * (SIL_CUDA_PROFILE=device instead times every launch and product on the GPU: timeline.ts.)
 */
const profile = process.env.SIL_CUDA_PROFILE === '1' ? new Map<string, { n: number; s: number }>() : null;
if (profile) {
  process.on('exit', () => {
    const rows = [...profile.entries()].sort((a, b) => b[1].s - a[1].s);
    const total = rows.reduce((a, [, v]) => a + v.s, 0);
    process.stderr.write(`cuda kernel profile (synchronised), total ${total.toFixed(3)} s; pool ${JSON.stringify(poolStats)}:\n`);
    for (const [k, v] of rows.slice(0, 40)) process.stderr.write(`  ${k.padEnd(60)} ${v.n.toString().padStart(7)} calls ${v.s.toFixed(4).padStart(9)} s\n`);
  });
}

let poolStats: Record<string, number> = {};

/** Forgets the profile so far (a benchmark calls it after its first, cold pass); no-op without SIL_CUDA_PROFILE=1. */
export function resetKernelProfile(): void {
  profile?.clear();
  resetTimeline();
}

function timed<T>(key: string, b: CudaBackend, f: () => T): T {
  if (!profile) return f();
  const pl = b.device.pool;
  poolStats = { driverAllocs: pl.driverAllocs, trims: pl.trims, inUseGiB: +(pl.inUse / 2 ** 30).toFixed(2), cachedGiB: +(pl.cached / 2 ** 30).toFixed(2), peakGiB: +(pl.peak / 2 ** 30).toFixed(2) };
  b.device.synchronize();
  const t0 = process.hrtime.bigint();
  const r = f();
  b.device.synchronize();
  const e = profile.get(key) ?? { n: 0, s: 0 };
  e.n++;
  e.s += Number(process.hrtime.bigint() - t0) / 1e9;
  profile.set(key, e);
  return r;
}

/** Registers a TF.js kernel of the cuda backend (timed per call under SIL_CUDA_PROFILE=1). */
export function reg(name: string, f: (b: CudaBackend, inputs: Record<string, Info>, attrs: Attrs) => Info | Info[]): void {
  implemented.add(name);
  tf.registerKernel({
    kernelName: name,
    backendName: BACKEND,
    kernelFunc: ((a: KernelArgs) => {
      const b = be(a.backend);
      if (!profile) return f(b, a.inputs, a.attrs ?? {});
      const key = `${name} ${Object.values(a.inputs)
        .map((t) => `[${t.shape.join(',')}]`)
        .join(' ')}`;
      return timed(key, b, () => f(b, a.inputs, a.attrs ?? {}));
    }) as unknown as tf.KernelFunc,
  });
}

// ---- everything else on the cpu backend ---------------------------------------------------------

/** Registers every kernel of the cpu backend that no `reg` call has, copying its inputs to the host and its outputs back. */
export function registerFallbacks(): void {
  for (const k of tf.getKernelsForBackend('cpu')) {
    if (implemented.has(k.kernelName)) continue;
    const cpuFunc = k.kernelFunc;
    tf.registerKernel({
      kernelName: k.kernelName,
      backendName: BACKEND,
      kernelFunc: ((args: KernelArgs) => {
        const b = be(args.backend);
        if (profile) b.device.synchronize();
        b.fallbacks.set(k.kernelName, (b.fallbacks.get(k.kernelName) ?? 0) + 1);
        if (process.env.SIL_CUDA_LOG === '1' && b.fallbacks.get(k.kernelName) === 1) process.stderr.write(`sil: cuda: kernel ${k.kernelName} runs on the cpu backend\n`);
        const cpu = tf.findBackend('cpu') as tf.KernelBackend;
        const made: object[] = [];
        const inputs: Record<string, Info> = {};
        for (const [key, t] of Object.entries(args.inputs)) {
          if (!t) continue;
          const id = cpu.write(b.readSync(t.dataId), t.shape, t.dtype);
          made.push(id);
          inputs[key] = { dataId: id, shape: t.shape, dtype: t.dtype };
        }
        try {
          const res = cpuFunc({ inputs, backend: cpu, attrs: args.attrs } as unknown as Parameters<tf.KernelFunc>[0]) as Info | Info[];
          const list = Array.isArray(res) ? res : [res];
          const outs = list.map((o) => {
            const vals = cpu.readSync(o.dataId);
            const dataId = b.write(vals, o.shape, o.dtype);
            return { dataId, shape: o.shape, dtype: o.dtype };
          });
          for (const o of list) if (!made.includes(o.dataId)) cpu.disposeData(o.dataId, true);
          return Array.isArray(res) ? outs : outs[0];
        } finally {
          for (const id of made) cpu.disposeData(id, true);
        }
      }) as unknown as tf.KernelFunc,
    });
  }
}
