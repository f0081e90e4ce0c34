/**
 * The wasm backend's products through the system BLAS: every transposed, batched and broadcast form
 * of BatchMatMul and _FusedMatMul (bias, activations) against TF.js's pure-JS cpu backend (the
 * reference), the BLAS verifiably called; then the whole model against the PyTorch goldens with the
 * BLAS and without it, to 1e-5. Skipped, with the reason, where no BLAS loads.
 */
import * as tf from '@tensorflow/tfjs';
import { blasCounters, blasUnavailable } from '../../src/blas';
import { blasMatmul } from '../../src/blas/kernels';
import { Checkpoint } from '../../src/io/checkpoint';
import { useBackend } from '../../src/model/backend';
import { CausalLM } from '../../src/model/model';
import { compareTensors, goldenDirs, loadGolden, maxAbsDiff } from '../model/parity-helpers';

const why = blasUnavailable();
if (why) {
  // eslint-disable-next-line no-console
  console.log(`skipping the BLAS kernels and parity: ${why}`);
}
const describeBlas = why ? describe.skip : describe;
const title = (s: string) => (why ? `${s} (skipped: ${why})` : s);

function seeded(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}

/** Runs `f` on the cpu backend (the reference) and on wasm with the BLAS; returns both results and the sgemm calls made. */
async function both(f: () => tf.Tensor): Promise<{ ref: Float32Array; got: Float32Array; shapeRef: number[]; shape: number[]; calls: number }> {
  await useBackend('cpu');
  const r = f();
  const ref = (await r.data()) as Float32Array;
  const shapeRef = r.shape;
  r.dispose();
  await useBackend('wasm', { blas: 'on' });
  const calls = blasCounters.calls;
  const g = f();
  const got = (await g.data()) as Float32Array;
  const shape = g.shape;
  g.dispose();
  return { ref, got, shapeRef, shape, calls: blasCounters.calls - calls };
}

function relMax(got: Float32Array, ref: Float32Array): number {
  let m = 0;
  for (let i = 0; i < ref.length; i++) m = Math.max(m, Math.abs(ref[i]));
  return maxAbsDiff(got, ref) / Math.max(m, 1e-30);
}

describeBlas(title('BatchMatMul through the BLAS'), () => {
  afterAll(async () => {
    await useBackend('wasm', { blas: 'off' });
  });

  it.each([
    [[7, 5], [5, 3], false, false],
    [[5, 7], [5, 3], true, false],
    [[7, 5], [3, 5], false, true],
    [[5, 7], [3, 5], true, true],
    [[4, 7, 5], [4, 5, 3], false, false],
    [[2, 3, 5, 7], [2, 3, 6, 7], false, true],
    [[2, 3, 7, 5], [2, 3, 7, 6], true, false],
    [[4, 7, 5], [5, 3], false, false],
    [[4, 7, 5], [3, 5], false, true],
    [[4, 5, 7], [5, 3], true, false],
    [[1, 7, 5], [4, 5, 3], false, false],
  ] as Array<[number[], number[], boolean, boolean]>)('multiplies %j by %j (transposeA %s, transposeB %s) as the cpu backend does', async (sa, sb, ta, tb) => {
    const a = seeded(
      sa.reduce((x, y) => x * y, 1),
      1,
    );
    const b = seeded(
      sb.reduce((x, y) => x * y, 1),
      2,
    );
    const r = await both(() => tf.tidy(() => tf.matMul(tf.tensor(a, sa), tf.tensor(b, sb), ta, tb)));
    expect(r.shape).toEqual(r.shapeRef);
    expect(relMax(r.got, r.ref)).toBeLessThan(1e-6);
    expect(r.calls).toBeGreaterThan(0);
  });

  it('gives a zero matrix for an empty inner dimension', async () => {
    const r = await both(() => tf.tidy(() => tf.matMul(tf.zeros([3, 0]), tf.zeros([0, 4]))));
    expect(r.shape).toEqual([3, 4]);
    expect([...r.got]).toEqual(new Array(12).fill(0));
  });

  it('leaves two-sided batch broadcasting to the wasm kernel', async () => {
    const a = seeded(2 * 1 * 3 * 4, 3);
    const b = seeded(1 * 2 * 4 * 5, 4);
    const r = await both(() => tf.tidy(() => tf.matMul(tf.tensor4d(a, [2, 1, 3, 4]), tf.tensor4d(b, [1, 2, 4, 5]))));
    expect(r.calls).toBe(0);
    expect(r.shape).toEqual(r.shapeRef);
  });

  it('computes matMul gradients for every transpose combination as the cpu backend does', async () => {
    const a = seeded(6 * 4, 5);
    const b = seeded(4 * 5, 6);
    for (const [ta, tb] of [
      [false, false],
      [false, true],
      [true, false],
      [true, true],
    ] as const) {
      const f = () =>
        tf.tidy(() => {
          const A = ta ? tf.tensor2d(a, [4, 6]) : tf.tensor2d(a, [6, 4]);
          const B = tb ? tf.tensor2d(b, [5, 4]) : tf.tensor2d(b, [4, 5]);
          const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D, ta, tb))))([A, B]);
          return tf.concat([ga.flatten(), gb.flatten()]);
        });
      const r = await both(f);
      expect(relMax(r.got, r.ref)).toBeLessThan(1e-6);
    }
  });
});

describeBlas(title('_FusedMatMul through the BLAS'), () => {
  afterAll(async () => {
    await useBackend('wasm', { blas: 'off' });
  });

  it.each(['linear', 'relu', 'sigmoid', 'leakyrelu', 'elu', 'relu6'] as const)('adds the bias and applies %s as the cpu backend does', async (activation) => {
    const a = seeded(3 * 6 * 4, 7);
    const b = seeded(3 * 5 * 4, 8);
    const bias = seeded(5, 9);
    const r = await both(() =>
      tf.tidy(() => tf.fused.matMul({ a: tf.tensor3d(a, [3, 6, 4]), b: tf.tensor3d(b, [3, 5, 4]), transposeB: true, bias: tf.tensor1d(bias), activation, leakyreluAlpha: 0.1 })),
    );
    expect(r.shape).toEqual([3, 6, 5]);
    expect(relMax(r.got, r.ref)).toBeLessThan(1e-6);
    expect(r.calls).toBeGreaterThan(0);
  });

  it('applies prelu with its weights as the cpu backend does', async () => {
    const a = seeded(6 * 4, 10);
    const b = seeded(4 * 5, 11);
    const w = seeded(5, 12);
    const r = await both(() => tf.tidy(() => tf.fused.matMul({ a: tf.tensor2d(a, [6, 4]), b: tf.tensor2d(b, [4, 5]), activation: 'prelu', preluActivationWeights: tf.tensor1d(w) })));
    expect(relMax(r.got, r.ref)).toBeLessThan(1e-6);
  });
});

const LOGITS_ABS = 1e-5;
const LOSS_REL = 1e-5;
const GRAD_REL_L2 = 1e-5;

describeBlas(title('the model on wasm with and without the BLAS'), () => {
  afterAll(async () => {
    await useBackend('wasm', { blas: 'off' });
  });

  describe.each(['on', 'off'] as const)('--blas %s', (blas) => {
    it.each(goldenDirs().shared.map((d) => [d.split('/').pop()!, d]))('matches the PyTorch logits, loss and gradients of %s to 1e-5', async (_name, dir) => {
      const selected = await useBackend('wasm', { blas });
      expect(selected.matmul).toBe(blas === 'on' ? blasMatmul()!.name : 'wasm');
      const g = loadGolden(dir);
      const ckpt = Checkpoint.open(g.model);
      const model = CausalLM.fromCheckpoint(ckpt);
      try {
        const calls = blasCounters.calls;
        const logits = model.logits(g.json);
        const { loss, grads } = model.lossAndGrads(g.json);
        expect(blasCounters.calls > calls).toBe(blas === 'on');
        const lg = compareTensors([{ name: 'logits', got: logits, want: g.tensors.readF32('logits') }], LOGITS_ABS, 'abs');
        const gr = compareTensors(
          [...grads].map(([name, got]) => ({ name: `grad/${name}`, got, want: g.tensors.readF32(`grad/${name}`) })),
          GRAD_REL_L2,
          'relL2',
        );
        const lossRel = Math.abs(loss - g.json.loss) / Math.abs(g.json.loss);
        if (lg.failed.length + gr.failed.length > 0 || !(lossRel <= LOSS_REL)) throw new Error(`${g.name}, --blas ${blas}:\nloss rel ${lossRel.toExponential(3)}\n${lg.report}\n${gr.report}`);
      } finally {
        model.dispose();
        ckpt.close();
        g.tensors.close();
      }
    });
  });

  it('keeps the number of live tensors constant across gradient steps', async () => {
    await useBackend('wasm', { blas: 'on' });
    const g = loadGolden(goldenDirs().shared[0]);
    const ckpt = Checkpoint.open(g.model);
    const model = CausalLM.fromCheckpoint(ckpt);
    try {
      model.lossAndGrads(g.json);
      const before = tf.memory().numTensors;
      model.lossAndGrads(g.json);
      model.logits(g.json);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      model.dispose();
      ckpt.close();
      g.tensors.close();
    }
  });
});
