/**
 * The cuda backend's host side (tensor storage, kernel launches and their index arithmetic, the
 * cuBLAS argument mapping, the cpu fallback) on an emulated GPU: every op against the cpu backend,
 * then the model's loss and gradients against the PyTorch goldens. Runs everywhere; the same checks
 * on a real GPU are in gpu.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { registerCudaBackendOn } from '../../src/cuda';
import { type CudaBackend } from '../../src/cuda/backend';
import { cudaFusedOps } from '../../src/cuda/fused';
import { decodeHalves } from '../../src/cuda/ops';
import { keptLayerBytes, PRECISIONS, residentBytesPerElement } from '../../src/cuda/precision';
import { cudaLayerForward, cudaLayerVJP, type LayerWeights } from '../../src/cuda/layer';
import { type FusedOps } from '../../src/cuda';
import { checkpointConfig } from '../../src/model/config';
import { modelOps } from '../../src/model/ops';
import { streamedGradients, wholeTensors } from '../../src/stream/engine';
import { GradSums } from '../../src/stream/sums';
import { StreamWeights } from '../../src/stream/weights';
import { applyRope } from '../../src/model/rope';
import { chunkLogitGrad, ChunkedLse, validWeights } from '../../src/stream/head';
import { Checkpoint } from '../../src/io/checkpoint';
import { CausalLM } from '../../src/model/model';
import { rmsNormExplicitGrad } from '../../src/model/norm';
import { compareTensors, goldenDirs, loadGolden } from '../model/parity-helpers';
import { EmulatedDevice } from './emulated-device';

const device = new EmulatedDevice();

async function on<T>(backend: string, f: () => T): Promise<T> {
  await tf.setBackend(backend);
  return f();
}

function rnd(shape: number[], seed: number): tf.Tensor {
  let x = seed >>> 0 || 1;
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    v[i] = (x / 4294967296) * 2 - 1;
  }
  return tf.tensor(v, shape);
}

/** Runs `f` on cpu and on the emulated cuda backend with the same inputs; returns both outputs' values. */
async function both(f: () => tf.Tensor | tf.Tensor[]): Promise<Array<[Float32Array | Int32Array | Uint8Array, Float32Array | Int32Array | Uint8Array, number[], number[]]>> {
  const run = async (name: string) => {
    await tf.setBackend(name);
    const out = tf.tidy(f);
    const list = Array.isArray(out) ? out : [out];
    const vals = list.map((t) => ({ v: t.dataSync() as Float32Array, s: t.shape, d: t.dtype }));
    tf.dispose(list);
    return vals;
  };
  const want = await run('cpu');
  const got = await run('cuda');
  return want.map((w, i) => {
    expect(got[i].d).toBe(w.d);
    return [got[i].v, w.v, got[i].s, w.s];
  });
}

function close(got: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-6): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= tol * Math.max(1, Math.abs(want[i]))) && !(Number.isNaN(got[i]) && Number.isNaN(want[i]))) {
      throw new Error(`element ${i}: got ${got[i]}, want ${want[i]}`);
    }
  }
}

beforeAll(() => {
  registerCudaBackendOn(device, 'f32');
});

afterAll(async () => {
  await tf.setBackend('cpu');
});

describe('the cuda backend on an emulated GPU', () => {
  const cases: Array<[string, () => tf.Tensor | tf.Tensor[]]> = [
    ['broadcast arithmetic', () => tf.add(tf.mul(rnd([2, 3, 4], 1), rnd([3, 1], 2)), tf.div(rnd([4], 3), 2))],
    [
      'comparisons, where and casts',
      () => {
        const a = rnd([3, 5], 4);
        return [tf.where(tf.greater(a, 0), a, tf.neg(a)), tf.cast(tf.less(a, 0.1), 'int32'), tf.cast(tf.mul(a, 10), 'int32')];
      },
    ],
    [
      'unary functions',
      () => {
        const a = tf.abs(rnd([7, 9], 5));
        return [tf.exp(a), tf.log(a), tf.rsqrt(a), tf.sigmoid(a), tf.square(a), tf.sqrt(a), tf.neg(a), tf.sin(a), tf.cos(a)];
      },
    ],
    [
      'reductions over any axes',
      () => {
        const a = rnd([4, 5, 6], 6);
        return [tf.sum(a), tf.sum(a, 1), tf.max(a, [0, 2], true), tf.mean(a, -1, true), tf.min(a, 0), tf.argMax(a, 1), tf.sum(rnd([3, 70000], 9), 1), tf.max(rnd([2, 40000], 10), 1)];
      },
    ],
    [
      'layout: transpose, slice, concat, split, stack, tile, pad, reverse',
      () => {
        const a = rnd([2, 3, 4, 5], 7);
        const [p, q] = tf.split(a, [2, 3], 3);
        return [
          tf.transpose(a, [0, 2, 1, 3]),
          tf.slice(a, [1, 0, 2, 1], [1, 3, 2, 3]),
          tf.concat([q, p], 3),
          ...tf.unstack(a, 1),
          tf.stack([p, p], 1),
          tf.tile(rnd([2, 1, 3], 8), [1, 4, 2]),
          tf.pad(
            rnd([2, 3], 9),
            [
              [1, 0],
              [0, 2],
            ],
            0.5,
          ),
          tf.reverse(a, [1, 3]),
        ];
      },
    ],
    [
      'matrix products in every transposition and batch form',
      () => {
        const a = rnd([3, 4, 5], 11),
          b = rnd([3, 5, 6], 12),
          w = rnd([6, 5], 13);
        return [
          tf.matMul(a, b),
          tf.matMul(a, rnd([3, 6, 5], 14), false, true),
          tf.matMul(rnd([3, 5, 4], 15), b, true, false),
          tf.matMul(rnd([8, 5], 16), w, false, true),
          tf.matMul(a, rnd([5, 6], 17)),
          tf.matMul(rnd([5, 4], 18), rnd([2, 5, 6], 19), true, false),
        ];
      },
    ],
    [
      'softmax, log-softmax, gather, one-hot',
      () => {
        const a = rnd([4, 33], 20);
        const ids = tf.tensor1d([3, 0, 2, 2], 'int32');
        return [tf.softmax(a), tf.logSoftmax(a), tf.gather(a, ids), tf.gather(a, tf.tensor1d([1, 30], 'int32'), 1), tf.oneHot(ids, 5)];
      },
    ],
    [
      'gradients of a small two-layer network',
      () => {
        const x = rnd([6, 8], 21),
          w1 = rnd([8, 16], 22),
          w2 = rnd([16, 4], 23);
        const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.logSoftmax(tf.matMul(tf.mul(tf.sigmoid(tf.matMul(x, a)), tf.matMul(x, a)), b))));
        return g([w1, w2]);
      },
    ],
    ['a kernel without a cuda version runs on the cpu backend', () => [tf.cumsum(rnd([3, 4], 24), 1)]],
  ];
  it.each(cases)('computes %s as the cpu backend does', async (_name, f) => {
    for (const [got, want, gs, ws] of await both(f)) {
      expect(gs).toEqual(ws);
      close(got, want, 2e-6);
    }
  });

  it('frees every tensor it allocates (no device memory held after a tidy)', async () => {
    await tf.setBackend('cuda');
    const before = device.pool.inUse;
    tf.tidy(() => {
      tf.matMul(rnd([16, 16], 1), rnd([16, 16], 2)).sum();
    });
    expect(device.pool.inUse).toBe(before);
  });

  it('reads bool tensors back as 0/1 bytes', async () => {
    await tf.setBackend('cuda');
    const t = tf.greater(tf.tensor1d([1, -1, 2]), 0);
    expect(t.dtype).toBe('bool');
    expect(Array.from(t.dataSync())).toEqual([1, 0, 1]);
    t.dispose();
  });
});

describe('the model on the cuda backend on an emulated GPU (f32 products)', () => {
  const { shared } = goldenDirs();
  const dir = shared[0];
  it('matches the PyTorch golden loss and every parameter gradient of the first shared fixture', async () => {
    await on('cuda', () => undefined);
    const g = loadGolden(dir);
    const ckpt = Checkpoint.open(g.model);
    const model = CausalLM.fromCheckpoint(ckpt);
    try {
      const { loss, grads } = model.lossAndGrads(g.json);
      const pairs = [...grads].map(([name, got]) => ({ name: `grad/${name}`, got, want: g.tensors.readF32(`grad/${name}`) }));
      const gr = compareTensors(pairs, 1e-5, 'relL2');
      const lossRel = Math.abs(loss - g.json.loss) / Math.abs(g.json.loss);
      if (gr.failed.length > 0 || !(lossRel <= 1e-5)) throw new Error(`loss ${loss} vs ${g.json.loss}\n${gr.report}`);
    } finally {
      model.dispose();
      ckpt.close();
      g.tensors.close();
    }
  });
});

describe('RMSNorm with its gradient written out (used on the cuda backend)', () => {
  it('equals TF.js gradients of the textbook form on the cpu backend', async () => {
    await tf.setBackend('cpu');
    const x = rnd([5, 8], 31),
      w = rnd([8], 32),
      dy = rnd([5, 8], 33);
    const ref = (a: tf.Tensor, b: tf.Tensor) => tf.mul(b, tf.mul(a, tf.rsqrt(tf.add(tf.mean(tf.square(a), -1, true), 1e-5))));
    const want = tf.grads(ref)([x, w], dy);
    const got = tf.grads((a: tf.Tensor, b: tf.Tensor) => rmsNormExplicitGrad(a, b, 1e-5))([x, w], dy);
    close(got[0].dataSync(), want[0].dataSync(), 1e-5);
    close(got[1].dataSync(), want[1].dataSync(), 1e-5);
    close(rmsNormExplicitGrad(x, w, 1e-5).dataSync(), ref(x, w).dataSync(), 1e-6);
  });
});

describe('the fused kernels of the cuda backend (src/cuda/fused.ts) on an emulated GPU', () => {
  const ops = cudaFusedOps;
  /** Runs `f(fused?)` on the emulated cuda backend with the fused ops and on cpu with the composites. */
  async function against(f: (fused: FusedOps | undefined) => tf.Tensor[], tol = 2e-6): Promise<void> {
    await tf.setBackend('cpu');
    const want = tf.tidy(() => f(undefined)).map((t) => ({ v: t.dataSync().slice(), s: t.shape }));
    await tf.setBackend('cuda');
    const got = tf.tidy(() => f(ops)).map((t) => ({ v: t.dataSync().slice(), s: t.shape }));
    expect(got.length).toBe(want.length);
    got.forEach((g, i) => {
      expect(g.s).toEqual(want[i].s);
      close(g.v, want[i].v, tol);
    });
  }

  it('RMSNorm and both its gradients equal the TF.js composite', async () => {
    await against((fz) => {
      const x = rnd([7, 48], 41),
        w = rnd([48], 42),
        dy = rnd([7, 48], 43);
      const norm = (a: tf.Tensor, b: tf.Tensor) => (fz ? fz.rmsNorm(a, b, 1e-5) : tf.mul(b, tf.mul(a, tf.rsqrt(tf.add(tf.mean(tf.square(a), -1, true), 1e-5)))));
      return [norm(x, w), ...tf.grads(norm)([x, w], dy)];
    }, 1e-5);
  });

  it('splits heads with RoPE, merges them, and differentiates both as transposes and rotations do', async () => {
    await against((fz) => {
      const [b, t, h, d] = [2, 5, 3, 8];
      const x = rnd([b * t, h * d], 44),
        dy = rnd([b, h, t, d], 45),
        cos = rnd([t, d], 46),
        sin = rnd([t, d], 47);
      const split = (a: tf.Tensor, rope: boolean) => {
        if (fz) return fz.splitHeads(a, b, t, h, d, rope ? { cos, sin } : undefined);
        const s = tf.transpose(tf.reshape(a, [b, t, h, d]), [0, 2, 1, 3]);
        return rope ? applyRope(s, cos, sin) : s;
      };
      const merge = (a: tf.Tensor) => (fz ? fz.mergeHeads(a) : tf.reshape(tf.transpose(a, [0, 2, 1, 3]), [b * t, h * d]));
      return [split(x, true), split(x, false), tf.grad((a: tf.Tensor) => split(a, true))(x, dy), tf.grad((a: tf.Tensor) => split(a, false))(x, dy), merge(dy), tf.grad(merge)(dy, x)];
    });
  });

  it('computes the scaled, masked softmax of attention scores and its gradient', async () => {
    await against((fz) => {
      const [b, h, t] = [2, 3, 6];
      const s = rnd([b, h, t, t], 48),
        dy = rnd([b, h, t, t], 49);
      const m = new Float32Array(b * t * t);
      for (let e = 0; e < b; e++) for (let i = 0; i < t; i++) for (let j = 0; j < t; j++) m[(e * t + i) * t + j] = j <= i && !(e === 1 && j === 0) ? 0 : -1e9;
      const mask = tf.tensor(m, [b, 1, t, t]);
      const sm = (a: tf.Tensor) => (fz ? fz.maskedSoftmax(a, mask, 0.3) : tf.softmax(tf.add(tf.mul(a, 0.3), mask)));
      return [sm(s), tf.grad(sm)(s, dy)];
    });
  });

  it('runs the attention core (grouped products, fused masked softmax) with the gradients of the composite', async () => {
    await against(() => {
      const [b, nh, nkv, t, d] = [2, 4, 2, 5, 8];
      const q = rnd([b, nh, t, d], 55),
        k = rnd([b, nkv, t, d], 56),
        v = rnd([b, nkv, t, d], 57),
        dy = rnd([b, nh, t, d], 58);
      const m = new Float32Array(b * t * t);
      for (let e = 0; e < b; e++) for (let i = 0; i < t; i++) for (let j = 0; j < t; j++) m[(e * t + i) * t + j] = j <= i ? 0 : -1e9;
      const mask = tf.tensor(m, [b, 1, t, t]);
      const att = (x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) => modelOps().attention(x, y, z, mask);
      return [att(q, k, v), ...tf.grads(att)([q, k, v], dy)];
    }, 1e-5);
  });

  it('computes SwiGLU and both its gradients', async () => {
    await against((fz) => {
      const g = rnd([6, 10], 50),
        u = rnd([6, 10], 51),
        dy = rnd([6, 10], 52);
      const sw = (a: tf.Tensor, c: tf.Tensor) => (fz ? fz.swiglu(a, c) : tf.mul(tf.mul(a, tf.sigmoid(a)), c));
      return [sw(g, u), ...tf.grads(sw)([g, u], dy)];
    });
  });

  it('computes the whole-vocabulary cross-entropy and its logit gradient as the composite does', async () => {
    const targets = new Int32Array([3, -1, 0, 11, 7]);
    await against(() => {
      const z = rnd([5, 12], 53).mul(4);
      const loss = (a: tf.Tensor) => modelOps().crossEntropy(a, targets, 4);
      return [loss(z), tf.grad(loss)(z)];
    }, 1e-5);
  });

  it("computes the head's running log-sum-exp and logit gradient over vocabulary chunks as the composite does", async () => {
    const targets = new Int32Array([3, -1, 0, 11, 7]);
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const z = rnd([5, 12], 54).mul(4) as tf.Tensor2D;
      // head rows = identity rows, so each chunk's logits are z's columns r0 … r0+C
      const chunks = [
        { r0: 0, w: tf.slice(tf.eye(12), [0, 0], [7, 12]) as tf.Tensor2D },
        { r0: 7, w: tf.slice(tf.eye(12), [7, 0], [5, 12]) as tf.Tensor2D },
      ];
      const acc = new ChunkedLse(5);
      for (const c of chunks) acc.add(z, c, targets);
      const { lse, loss: lossT } = acc.finish(targets, 4);
      const loss = (await lossT.data())[0];
      const scale = validWeights(targets, 4);
      const dz = chunks.map((c) => chunkLogitGrad(z, c, lse, targets, scale));
      const out = [lse, ...dz].map((t) => t.dataSync().slice());
      tf.dispose([z, lse, lossT, scale, ...dz, ...chunks.map((c) => c.w)]);
      return { out, loss };
    };
    const want = await run('cpu');
    const got = await run('cuda');
    expect(got.loss).toBeCloseTo(want.loss, 5);
    got.out.forEach((g, i) => close(g, want.out[i], 1e-5));
  });

  it('sums the embedding gradient rows by token in position order, bit for bit as the host loop does', async () => {
    await tf.setBackend('cuda');
    const ids = [5, 2, 5, 9, 2, 5, 7];
    const H = 6;
    const x = rnd([ids.length, H], 59) as tf.Tensor2D;
    const xs = x.dataSync();
    const rows = Int32Array.from(new Set(ids)).sort();
    const want = new Float32Array(rows.length * H);
    ids.forEach((v, n) => {
      const r = rows.indexOf(v);
      for (let j = 0; j < H; j++) want[r * H + j] += xs[n * H + j];
    });
    const starts = new Int32Array(rows.length + 1);
    ids.forEach((v) => starts[rows.indexOf(v) + 1]++);
    for (let r = 0; r < rows.length; r++) starts[r + 1] += starts[r];
    const fill = starts.slice(0, rows.length);
    const order = new Int32Array(ids.length);
    ids.forEach((v, n) => (order[fill[rows.indexOf(v)]++] = n));
    const got = ops.rowsSum(x, order, starts);
    expect(Array.from(got.dataSync())).toEqual(Array.from(want));
    tf.dispose([x, got]);
  });

  it('keeps a BF16 weight as its halves only and multiplies it without widening (bf16 precision)', async () => {
    await tf.setBackend('cuda');
    const b = tf.backend() as CudaBackend;
    const vals = new Float32Array([1.5, -2, 0.25, 3, 0.125, -0.5]);
    const raw = new Uint8Array(vals.length * 2);
    const u = new Uint32Array(vals.buffer);
    for (let i = 0; i < vals.length; i++) {
      raw[2 * i] = (u[i] >>> 16) & 0xff;
      raw[2 * i + 1] = u[i] >>> 24;
    }
    const w = tf.engine().makeTensorFromTensorInfo(decodeHalves(b, raw, 'BF16', [2, 3]));
    expect(b.deviceBytes(w.dataId)).toBe(12);
    b.precision = 'bf16';
    try {
      const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
      const before = device.launches.halves_to_f32 ?? 0;
      const y = tf.matMul(x, w, false, true);
      expect(device.launches.halves_to_f32 ?? 0).toBe(before);
      expect(b.deviceBytes(w.dataId)).toBe(12);
      close(y.dataSync(), [-1.75, 1.75, -2.5, 9.625], 1e-6);
      expect(Array.from(w.dataSync())).toEqual(Array.from(vals));
      expect(b.deviceBytes(w.dataId)).toBe(12 + 24);
      tf.dispose([x, y, w]);
    } finally {
      b.precision = 'f32';
    }
  });

  it('holds each weight in exactly the bytes the planner counts (residentBytesPerElement) for every precision, stored dtype and use', async () => {
    await tf.setBackend('cuda');
    const b = tf.backend() as CudaBackend;
    // 1.5, -2, 0.25, 3, 0.125, -0.5: exact in bfloat16 and float16
    const vals = new Float32Array([1.5, -2, 0.25, 3, 0.125, -0.5]);
    const halves = (dtype: 'BF16' | 'F16') => {
      const words = dtype === 'BF16' ? Array.from(new Uint32Array(vals.buffer), (u) => u >>> 16) : [0x3e00, 0xc000, 0x3400, 0x4200, 0x3000, 0xb800];
      return new Uint8Array(new Uint16Array(words).buffer);
    };
    const upload = (dtype: string) =>
      dtype === 'F32' ? tf.tensor2d(vals, [2, 3]) : tf.engine().makeTensorFromTensorInfo(decodeHalves(b, halves(dtype as 'BF16' | 'F16'), dtype as 'BF16' | 'F16', [2, 3]));
    try {
      for (const precision of PRECISIONS) {
        b.precision = precision;
        for (const dtype of ['BF16', 'F16', 'F32']) {
          for (const use of [
            { product: true, f32: false },
            { product: false, f32: true },
            { product: true, f32: true },
          ]) {
            const w = upload(dtype);
            const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
            const outs = [...(use.product ? [tf.matMul(x, w, false, true)] : []), ...(use.f32 ? [tf.neg(w)] : [])];
            expect([precision, dtype, use, b.deviceBytes(w.dataId) / vals.length]).toEqual([precision, dtype, use, residentBytesPerElement(precision, dtype, use)]);
            tf.dispose([x, w, ...outs]);
          }
        }
      }
    } finally {
      b.precision = 'f32';
    }
  });
});

describe('the written-out decoder layer of the cuda backend (src/cuda/layer.ts) on an emulated GPU', () => {
  const s = { batch: 2, seqLen: 5, hidden: 8, heads: 4, kvHeads: 2, headDim: 4, ffn: 12, eps: 1e-5 };
  const N = s.batch * s.seqLen;
  const make = () => {
    const Q = s.heads * s.headDim;
    const K = s.kvHeads * s.headDim;
    const w: LayerWeights = {
      inNorm: tf.add(1, tf.mul(0.1, rnd([s.hidden], 1))),
      postNorm: tf.add(1, tf.mul(0.1, rnd([s.hidden], 2))),
      q: tf.mul(0.4, rnd([Q, s.hidden], 3)),
      k: tf.mul(0.4, rnd([K, s.hidden], 4)),
      v: tf.mul(0.4, rnd([K, s.hidden], 5)),
      o: tf.mul(0.4, rnd([s.hidden, Q], 6)),
      gate: tf.mul(0.4, rnd([s.ffn, s.hidden], 7)),
      up: tf.mul(0.4, rnd([s.ffn, s.hidden], 8)),
      down: tf.mul(0.4, rnd([s.hidden, s.ffn], 9)),
    };
    const ang = tf.mul(tf.range(0, s.seqLen).reshape([s.seqLen, 1]), tf.tensor1d([1, 0.1, 1, 0.1]));
    const causal = tf.tensor4d(
      Array.from({ length: s.batch * s.seqLen * s.seqLen }, (_, i) => (i % s.seqLen > Math.floor(i / s.seqLen) % s.seqLen ? -1e9 : 0)),
      [s.batch, 1, s.seqLen, s.seqLen],
    );
    return { w, cos: tf.cos(ang), sin: tf.sin(ang), mask: causal, h: rnd([N, s.hidden], 10), dy: rnd([N, s.hidden], 11) };
  };

  it.each(PRECISIONS)(
    'gives under %s products, from the kept forward state, the output and gradients of the recomputing VJP bit for bit, holding exactly the bytes the planner counts',
    async (precision) => {
      await tf.setBackend('cuda');
      const b = tf.backend() as CudaBackend;
      b.precision = precision;
      const { w, cos, sin, mask, h, dy } = make();
      try {
        const plain = cudaLayerForward(h, w, s, cos, sin, mask, false);
        const held = cudaLayerForward(h, w, s, cos, sin, mask, true);
        expect(plain.kept).toBeNull();
        expect(Array.from(held.y.dataSync())).toEqual(Array.from(plain.y.dataSync()));
        const dims = { hidden: s.hidden, qWidth: s.heads * s.headDim, kvWidth: s.kvHeads * s.headDim, ffn: s.ffn, heads: s.heads };
        expect(held.kept!.bytes()).toBe(keptLayerBytes(precision, dims, s.batch, s.seqLen));
        const fresh = cudaLayerVJP(h, dy, w, s, cos, sin, mask);
        const fromKept = cudaLayerVJP(h, dy, w, s, cos, sin, mask, { kept: held.kept });
        held.kept!.dispose();
        expect(Array.from(fromKept.dh.dataSync())).toEqual(Array.from(fresh.dh.dataSync()));
        for (const key of Object.keys(w) as Array<keyof LayerWeights>) {
          expect([key, Array.from(fromKept.grads[key]!.dataSync())]).toEqual([key, Array.from(fresh.grads[key]!.dataSync())]);
        }
        tf.dispose([plain.y, held.y, fresh.dh, fromKept.dh, ...Object.values(fresh.grads), ...Object.values(fromKept.grads)]);
      } finally {
        tf.dispose([...Object.values(w), cos, sin, mask, h, dy]);
        b.precision = 'f32';
      }
    },
  );

  it('under bf16 products (activations written as bfloat16 by the kernels that make them) stays within 3e-2 relative L2 of f32 products, output and every gradient', async () => {
    await tf.setBackend('cuda');
    const b = tf.backend() as CudaBackend;
    const { w, cos, sin, mask, h, dy } = make();
    const run = (precision: 'bf16' | 'f32') => {
      b.precision = precision;
      const fw = cudaLayerForward(h, w, s, cos, sin, mask, true);
      const r = cudaLayerVJP(h, dy, w, s, cos, sin, mask, { kept: fw.kept });
      fw.kept!.dispose();
      const out = [fw.y, r.dh, ...(Object.keys(w) as Array<keyof LayerWeights>).map((k) => r.grads[k]!)].map((t) => t.dataSync().slice() as Float32Array);
      tf.dispose([fw.y, r.dh, ...Object.values(r.grads)]);
      return out;
    };
    try {
      const want = run('f32');
      const got = run('bf16');
      const rel = got.map((g, i) => Math.sqrt(g.reduce((a, x, j) => a + (x - want[i][j]) ** 2, 0) / want[i].reduce((a, x) => a + x * x, 0)));
      expect(rel.every((r) => r > 0 && r <= 3e-2)).toBe(true);
    } finally {
      tf.dispose([...Object.values(w), cos, sin, mask, h, dy]);
      b.precision = 'f32';
    }
  });

  it('adds each weight gradient into a given sum in place, and leaves that weight out of the results', async () => {
    await tf.setBackend('cuda');
    const { w, cos, sin, mask, h, dy } = make();
    try {
      const first = cudaLayerVJP(h, dy, w, s, cos, sin, mask);
      const into = Object.fromEntries(Object.entries(first.grads).map(([k, g]) => [k, tf.tensor(g!.dataSync(), g!.shape)])) as unknown as LayerWeights;
      const second = cudaLayerVJP(h, dy, w, s, cos, sin, mask, { into });
      expect(Object.keys(second.grads)).toEqual([]);
      for (const key of Object.keys(w) as Array<keyof LayerWeights>)
        close(
          into[key].dataSync(),
          Array.from(first.grads[key]!.dataSync(), (x) => 2 * x),
          1e-6,
        );
      tf.dispose([first.dh, second.dh, ...Object.values(first.grads), ...Object.values(into)]);
    } finally {
      tf.dispose([...Object.values(w), cos, sin, mask, h, dy]);
    }
  });

  it('refuses to widen an activation kept as its bfloat16 copy alone, and to update a shared tensor in place', async () => {
    await tf.setBackend('cuda');
    const b = tf.backend() as CudaBackend;
    const x = tf.engine().makeTensorFromTensorInfo(b.makeHalfOutput([3]));
    expect(b.deviceBytes(x.dataId)).toBe(6);
    expect(() => x.dataSync()).toThrow(/bfloat16 copy/);
    const y = tf.tensor1d([1, 2]);
    const alias = tf.reshape(y, [2, 1]);
    expect(() => b.mutablePtr(y as unknown as tf.TensorInfo)).toThrow(/unshared/);
    tf.dispose([x, y, alias]);
  });
});

describe('the layer-streamed pass on the cuda backend on an emulated GPU (f32 products)', () => {
  const { shared } = goldenDirs();
  const withFlag = async <T>(flag: string, f: () => Promise<T>): Promise<T> => {
    const before = process.env.SIL_CUDA_LAYER;
    process.env.SIL_CUDA_LAYER = flag;
    try {
      return await f();
    } finally {
      if (before === undefined) delete process.env.SIL_CUDA_LAYER;
      else process.env.SIL_CUDA_LAYER = before;
    }
  };
  const storage = (ckpt: Checkpoint) => ({ precision: 'f32' as const, dtype: ckpt.info('model.layers.0.self_attn.q_proj.weight').dtype });

  it.each([
    ['the written-out layer, forward state kept for the VJP', '1', true],
    ['the written-out layer, forward recomputed in the VJP', '1', false],
    ['the TF.js tape over the fused ops', '0', false],
  ])('matches the PyTorch golden loss and every parameter gradient of the first shared fixture with %s', async (_what, flag, keep) => {
    await tf.setBackend('cuda');
    const g = loadGolden(shared[0]);
    const ckpt = Checkpoint.open(g.model);
    try {
      await withFlag(flag, async () => {
        const cfg = checkpointConfig(ckpt);
        const got = new Map<string, Float32Array>();
        const sink = wholeTensors(
          (n) => ckpt.info(n).shape.reduce((a, x) => a * x, 1),
          (n, data) => void got.set(n, data.slice()),
        );
        const added = device.launches.add_same ?? 0;
        let kept = -1;
        // the gradients stay on the backend (device sink); the embedding's rows come summed there too
        const r = await streamedGradients(cfg, ckpt, g.json as never, sink, {
          boundaries: 'device',
          weightStorage: storage(ckpt),
          deviceBudgetBytes: keep ? 2 ** 40 : 0,
          onPlan: (p) => void (kept = p.keptLayers),
          deviceSink: async (n, start, t) => {
            const data = (await t.data()) as Float32Array;
            t.dispose();
            await sink(n, start, data);
          },
          rowSink: (n, rows, data) => {
            const [V, H] = ckpt.info(n).shape;
            const full = new Float32Array(V * H);
            rows.forEach((v, k) => full.set(data.subarray(k * H, (k + 1) * H), v * H));
            got.set(n, full);
          },
        });
        expect(kept).toBe(keep ? cfg.numLayers : 0);
        // add_same runs only in the written-out layer (its residual paths)
        expect((device.launches.add_same ?? 0) > added).toBe(flag === '1');
        const pairs = [...got].map(([name, v]) => ({ name: `grad/${name}`, got: v, want: g.tensors.readF32(`grad/${name}`) }));
        const gr = compareTensors(pairs, 1e-5, 'relL2');
        const lossRel = Math.abs(r.loss - g.json.loss) / Math.abs(g.json.loss);
        expect(pairs.length).toBe(ckpt.names().length);
        if (gr.failed.length > 0 || !(lossRel <= 1e-5)) throw new Error(`loss ${r.loss} vs ${g.json.loss}\n${gr.report}`);
      });
    } finally {
      ckpt.close();
      g.tensors.close();
    }
  });

  it("adds a second pass's layer gradients (β = 1) and both passes' embedding rows into the sums in place, with the embedding looked up on the GPU, and sums to twice the golden gradients", async () => {
    await tf.setBackend('cuda');
    const g = loadGolden(shared[0]);
    const ckpt = Checkpoint.open(g.model);
    const sums = new GradSums(['grad']);
    const cfg = checkpointConfig(ckpt);
    // the weights shared by both passes, the embedding among them (its rows looked up on the GPU)
    const weights = new StreamWeights(cfg, ckpt);
    try {
      const size = (n: string) => ckpt.info(n).shape.reduce((a, x) => a * x, 1);
      const reached: string[][] = [];
      const lookups = device.launches.embed_rows ?? 0;
      let cachedEmbedding = false;
      for (let pass = 0; pass < 2; pass++) {
        const names: string[] = [];
        reached.push(names);
        await streamedGradients(cfg, ckpt, g.json as never, (n, st, d) => sums.addHost(n, st, d), {
          boundaries: 'device',
          weightStorage: storage(ckpt),
          deviceBudgetBytes: 2 ** 40,
          weights,
          weightCacheBytes: 2 ** 40,
          embeddingOnDevice: true,
          onPlan: (p) => void (cachedEmbedding = p.cachedEmbedding),
          deviceSink: (n, st, t) => {
            names.push(n);
            sums.addTensor(n, st, t);
          },
          deviceSums: (n) => sums.inPlace(n),
          rowSink: (n, rows, d) => {
            names.push(`rows of ${n}`);
            sums.addRows(n, size(n), rows, d);
          },
          deviceRowSums: (n) => sums.rowsInPlace(n, size(n)),
        });
      }
      expect(cfg.tieWordEmbeddings).toBe(false); // so the embedding's rows take the row path
      expect(cachedEmbedding).toBe(true);
      expect((device.launches.embed_rows ?? 0) - lookups).toBe(2);
      const layerNames = ckpt.names().filter((n) => n.startsWith('model.layers.'));
      expect(layerNames.every((n) => reached[0].includes(n))).toBe(true);
      // the second pass added every layer weight's gradient into its sum: none reached the sink;
      // the untied embedding's rows went into its sum on the backend in both passes
      expect(reached[1].filter((n) => n.startsWith('model.layers.'))).toEqual([]);
      expect(reached.flat().filter((n) => n.startsWith('rows of'))).toEqual([]);
      const got = new Map<string, Float32Array>();
      await sums.drain(ckpt.names(), (_f, n, _st, d) => void got.set(n, d));
      const pairs = [...got].map(([name, v]) => ({ name: `grad/${name}`, got: v, want: g.tensors.readF32(`grad/${name}`).map((x) => 2 * x) }));
      expect(pairs.length).toBe(ckpt.names().length);
      const gr = compareTensors(pairs, 1e-5, 'relL2');
      if (gr.failed.length > 0) throw new Error(gr.report);
    } finally {
      weights.dispose();
      sums.dispose();
      ckpt.close();
      g.tensors.close();
    }
  });
});
