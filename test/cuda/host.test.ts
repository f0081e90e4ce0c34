/**
 * Host-side parts of the cuda backend that need no GPU: finding the libraries, the error a user
 * sees without them, the device memory pool, and the kernel source and its argument layout.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describePlaces, discoverCudaLibraries, type FsView, searchPlaces } from '../../src/cuda/discover';
import { BINARY_OPS, broadcastStrides, KERNEL_NAMES, kernelSource, MAX_RANK, packView, simplifyView, stridesOf, UNARY_OPS, VIEW_BYTES } from '../../src/cuda/kernels';
import { DevicePool, roundBlock } from '../../src/cuda/pool';
import { cudaUnavailableSync, parseDevice, parsePrecision } from '../../src/cuda';
import { spawnSync } from 'node:child_process';
import { builtCli } from '../helpers/dist';

function fakeFs(files: string[]): FsView {
  const set = new Set(files);
  const dirs = new Map<string, Set<string>>();
  for (const f of files) {
    let p = f;
    while (p !== '/') {
      const parent = path.dirname(p);
      if (!dirs.has(parent)) dirs.set(parent, new Set());
      dirs.get(parent)!.add(path.basename(p));
      p = parent;
    }
  }
  return { exists: (p) => set.has(p) || dirs.has(p), list: (d) => [...(dirs.get(d) ?? [])] };
}

describe('finding the CUDA libraries', () => {
  const toolkit = ['/usr/local/cuda-12.4/lib64/libcublas.so.12', '/usr/local/cuda-12.4/lib64/libcublasLt.so.12', '/usr/local/cuda-12.4/lib64/libnvrtc.so.12'];
  const wheels = [
    '/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublas.so.13',
    '/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublasLt.so.13',
    '/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib/libnvrtc.so.13',
  ];

  it('searches SIL_CUDA_LIB_DIR, then LD_LIBRARY_PATH, then /usr/local/cuda*/lib64 (newest first), then site-packages nvidia/*/lib', () => {
    const view = fakeFs([...toolkit, '/usr/local/cuda-13.0/lib64/x', '/usr/local/cuda/lib64/y', ...wheels]);
    const places = searchPlaces({ SIL_CUDA_LIB_DIR: '/a:/b', LD_LIBRARY_PATH: '/c' }, view).map((p) => p.dir);
    expect(places.slice(0, 6)).toEqual(['/a', '/b', '/c', '/usr/local/cuda/lib64', '/usr/local/cuda-13.0/lib64', '/usr/local/cuda-12.4/lib64']);
    expect(places).toContain('/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib');
  });

  it('takes each library from the first place that has it', () => {
    const found = discoverCudaLibraries({}, fakeFs([...toolkit, ...wheels]));
    expect(found.ok && found.paths.cublas).toBe('/usr/local/cuda-12.4/lib64/libcublas.so.12');
    const viaEnv = discoverCudaLibraries({ SIL_CUDA_LIB_DIR: path.dirname(wheels[0]) }, fakeFs([...toolkit, ...wheels]));
    expect(viaEnv.ok && viaEnv.paths.nvrtc).toBe(wheels[2]);
  });

  it('finds PyTorch wheels when there is no toolkit', () => {
    const found = discoverCudaLibraries({}, fakeFs(wheels));
    expect(found.ok && found.paths.cublasLt).toBe(wheels[1]);
  });

  it('names the missing library and every place searched when one is absent', () => {
    const found = discoverCudaLibraries({ LD_LIBRARY_PATH: '/x/lib' }, fakeFs(toolkit.filter((f) => !f.includes('nvrtc'))));
    expect(found.ok).toBe(false);
    if (found.ok) return;
    expect(found.missing).toBe('nvrtc');
    expect(found.message).toMatch(
      /^NVRTC \(libnvrtc\.so\.13 or libnvrtc\.so\.12 or libnvrtc\.so\) not found; searched \/x\/lib, \/usr\/local\/cuda-12\.4\/lib64, SIL_CUDA_LIB_DIR \(unset\), site-packages nvidia\/\*\/lib \(none\)/,
    );
    expect(describePlaces([], {})).toBe('SIL_CUDA_LIB_DIR (unset), LD_LIBRARY_PATH (unset), /usr/local/cuda*/lib64 (none), site-packages nvidia/*/lib (none)');
  });
});

const noGpu = cudaUnavailableSync();
(noGpu ? it : it.skip)(`sil grad --backend cuda fails with one CUDA_UNAVAILABLE line and exit 2 on a machine without a GPU${noGpu ? '' : ' (skipped: this machine has an NVIDIA GPU)'}`, async () => {
  const g = path.resolve(__dirname, '../../weights/demo/base');
  const batch = path.resolve(__dirname, '../../../shared/fixtures/hf-tiny/llama3-tiny-bf16/golden.json');
  const cli = builtCli();
  const out = '/tmp/sil-cuda-never-written.safetensors';
  const r = spawnSync(process.execPath, [cli, 'grad', '--backend', 'cuda', '--model', g, '--batch', batch, '--out', out], { encoding: 'utf8', env: { ...process.env, SIL_CUDA_LIB_DIR: '' } });
  expect(r.status).toBe(2);
  expect(fs.existsSync(out)).toBe(false);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^sil: error \[CUDA_UNAVAILABLE\]: backend cuda is unavailable: .*libcuda\.so\.1/);
});

describe('options', () => {
  it('accepts --precision bf16 | tf32 | f32 (bf16 by default) and --device N', () => {
    expect(parsePrecision(undefined)).toBe('bf16');
    expect(parsePrecision('tf32')).toBe('tf32');
    expect(() => parsePrecision('fp8')).toThrow(/--precision must be one of bf16, tf32, f32/);
    expect(parseDevice('1')).toBe(1);
    expect(() => parseDevice('-1')).toThrow(/--device must be a GPU number/);
  });
});

describe('the device memory pool', () => {
  function raw(capacity: number) {
    let next = 4096;
    const live = new Map<number, number>();
    const calls = { alloc: 0, free: 0 };
    return {
      calls,
      live,
      alloc: (b: number) => {
        calls.alloc++;
        const used = [...live.values()].reduce((a, x) => a + x, 0);
        if (used + b > capacity) return null;
        const p = next;
        next += b;
        live.set(p, b);
        return p;
      },
      free: (p: number) => {
        calls.free++;
        live.delete(p);
      },
      info: () => ({ free: capacity - [...live.values()].reduce((a, x) => a + x, 0), total: capacity }),
    };
  }

  it('rounds requests to 512-byte steps, quarter powers of two, then 2 MiB steps', () => {
    expect(roundBlock(1)).toBe(512);
    expect(roundBlock(600)).toBe(1024);
    expect(roundBlock(100_000)).toBe(114_688); // 2^16 + 3·2^14
    expect(roundBlock(100 * 2 ** 20 + 1)).toBe(102 * 2 ** 20);
    for (const n of [1, 513, 70_000, 5e6, 3e8]) expect(roundBlock(n)).toBeLessThanOrEqual(Math.max(n + 511, n * 1.25));
  });

  it('reuses freed blocks of the same size without asking the driver again', () => {
    const r = raw(1 << 30);
    const pool = new DevicePool(r);
    const a = pool.alloc(1000);
    pool.release(a);
    const b = pool.alloc(900);
    expect(b).toBe(a);
    expect(r.calls.alloc).toBe(1);
    expect(pool.inUse).toBe(1024);
  });

  it('returns cached blocks to the driver and retries before failing, then names the size asked for and what is free', () => {
    const r = raw(4 * 2 ** 20);
    const pool = new DevicePool(r);
    const a = pool.alloc(3 * 2 ** 20);
    pool.release(a);
    const b = pool.alloc(2 * 2 ** 20); // does not fit beside the cached 3 MiB block: the cache is emptied
    expect(r.calls.free).toBe(1);
    expect(() => pool.alloc(3 * 2 ** 20)).toThrow(/out of GPU memory: asked for 3\.0 MiB, 2\.0 MiB free of 4\.0 MiB .*--stream always/);
    pool.release(b);
  });
});

describe('kernel source', () => {
  const src = kernelSource();
  it('defines every kernel the backend launches, as extern "C" globals', () => {
    for (const k of KERNEL_NAMES) expect(src).toMatch(new RegExp(`extern "C" __global__ void ${k}\\(`));
  });
  it('has one case per unary and binary op code', () => {
    for (const c of Object.values(UNARY_OPS)) expect(src).toContain(`case ${c}:`);
    expect(new Set(Object.values(BINARY_OPS)).size).toBe(Object.keys(BINARY_OPS).length);
  });
  it('does not rely on math.h macros that NVRTC lacks without the defines it carries', () => {
    expect(src).toContain('#define INFINITY');
    expect(src).toContain('#define NAN');
  });
  it('packs the View struct in its C layout', () => {
    const b = packView([2, 3], [3, 1], [0, 1], [], [0, 3]);
    expect(b.length).toBe(VIEW_BYTES);
    expect(Number(b.readBigInt64LE(0))).toBe(6);
    expect(b.readInt32LE(8)).toBe(2);
    expect(b.readInt32LE(16)).toBe(2);
    expect(b.readInt32LE(16 + MAX_RANK * 4 + 4)).toBe(3);
    expect(Number(b.readBigInt64LE(16 + 8 * MAX_RANK))).toBe(3);
  });
  it('computes broadcast strides and merges contiguous dimensions', () => {
    expect(stridesOf([2, 3, 4])).toEqual([12, 4, 1]);
    expect(broadcastStrides([3, 1], [2, 3, 4])).toEqual([0, 1, 0]);
    expect(
      simplifyView(
        [2, 3, 4],
        [
          [12, 4, 1],
          [12, 4, 1],
        ],
      ),
    ).toEqual({ shape: [24], strides: [[1], [1]] });
    expect(
      simplifyView(
        [2, 1, 4],
        [
          [4, 4, 1],
          [0, 0, 1],
        ],
      ),
    ).toEqual({
      shape: [2, 4],
      strides: [
        [4, 1],
        [0, 1],
      ],
    });
  });
});
