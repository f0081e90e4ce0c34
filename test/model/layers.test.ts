/**
 * The fast pieces against their references, and the layer-wise backward (what streaming uses)
 * against the whole-tape gradients.
 */
import * as tf from '@tensorflow/tfjs';
import { Checkpoint } from '../../src/io/checkpoint';
import { attentionCore, attentionCoreGrouped, attentionCoreReference } from '../../src/model/attention';
import { useBackend } from '../../src/model/backend';
import { embed, embeddingGrad } from '../../src/model/embedding';
import { decoderLayer, decoderLayerVJP } from '../../src/model/layer';
import { linear, linearReference } from '../../src/model/linear';
import { crossEntropy, crossEntropyReference } from '../../src/model/loss';
import { CausalLM, disposeContext, head, headWeightName, makeContext } from '../../src/model/model';
import { EMBED, FINAL_NORM } from '../../src/model/names';
import { compareTensors, goldenDirs, loadGolden } from './parity-helpers';

beforeAll(async () => {
  await useBackend('wasm');
});

describe('linear', () => {
  it('equals x·Wᵀ + b with TF.js’s own matMul, in value and in both gradients', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([7, 5]);
      const w = tf.randomNormal([3, 5]);
      const b = tf.randomNormal([3]);
      const p = { w, b };
      const loss = (f: typeof linear) => (xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.sin(f(xx, { ...p, w: ww })));
      const [fx, fw] = tf.grads(loss(linear))([x, w]);
      const [rx, rw] = tf.grads(loss(linearReference))([x, w]);
      expect(tf.max(tf.abs(tf.sub(linear(x, p), linearReference(x, p)))).dataSync()[0]).toBeLessThan(1e-5);
      expect(tf.max(tf.abs(tf.sub(fx, rx))).dataSync()[0]).toBeLessThan(1e-5);
      expect(tf.max(tf.abs(tf.sub(fw, rw))).dataSync()[0]).toBeLessThan(1e-5);
    });
  });

  it.each(['off', 'on'] as const)('keeps no copy of the weight for its gradient on the wasm heap (--blas %s)', async (blas) => {
    const selected = await useBackend('wasm', { blas });
    if (blas === 'on' && selected.matmul === 'wasm') return void expect(selected.matmulNote).toMatch(/no BLAS/);
    const w = tf.randomNormal([1024, 512]);
    const x = tf.randomNormal([4, 512]);
    const wBytes = 1024 * 512 * 4;
    // peak of the tensors allocated on the wasm heap during the whole gradient computation: ∂W (one
    // weight's size) plus small activations; a copy of W saved for the gradient would add another
    const heap = (tf.backend() as unknown as { wasm: { _malloc(n: number): number; _free(p: number): void } }).wasm;
    const [malloc, free] = [heap._malloc, heap._free];
    const live = new Map<number, number>();
    let bytes = 0;
    let peak = 0;
    heap._malloc = (n: number) => {
      const p = malloc(n);
      live.set(p, n);
      bytes += n;
      peak = Math.max(peak, bytes);
      return p;
    };
    heap._free = (p: number) => {
      bytes -= live.get(p) ?? 0;
      live.delete(p);
      free(p);
    };
    try {
      const [dx, dw] = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(linear(xx, { w: ww })))([x, w]);
      tf.dispose([dx, dw]);
    } finally {
      heap._malloc = malloc;
      heap._free = free;
      tf.dispose([w, x]);
      await useBackend('wasm');
    }
    expect(peak).toBeGreaterThanOrEqual(wBytes);
    expect(peak).toBeLessThan(1.5 * wBytes);
  });
});

describe('cross-entropy', () => {
  it('equals −Σ logsoftmax·onehot / denominator with TF.js’s own gradients, positions without a label left out', () => {
    tf.tidy(() => {
      const z = tf.mul(tf.randomNormal([6, 50]), 4);
      const targets = Int32Array.from([3, -1, 49, 0, -1, 17]);
      const loss = (f: typeof crossEntropy) => (zz: tf.Tensor) => f(zz, targets, 5);
      const fast = tf.valueAndGrad(loss(crossEntropy))(z);
      const ref = tf.valueAndGrad(loss(crossEntropyReference))(z);
      expect(Math.abs(fast.value.dataSync()[0] - ref.value.dataSync()[0])).toBeLessThan(1e-5 * Math.abs(ref.value.dataSync()[0]));
      expect(tf.max(tf.abs(tf.sub(fast.grad, ref.grad))).dataSync()[0]).toBeLessThan(1e-6);
      expect(tf.sum(tf.abs(tf.gather(fast.grad, [1, 4]))).dataSync()[0]).toBe(0);
    });
  });
});

describe('attention core', () => {
  it.each([
    [2, 4, 2, 5, 8],
    [1, 4, 4, 7, 6],
    [3, 6, 2, 4, 4],
  ])('2-D per-group products and the batched grouped form equal the rank-4 form in value and gradients (B %i, heads %i/%i, T %i, D %i)', (b, nh, nkv, t, d) => {
    tf.tidy(() => {
      const q = tf.randomNormal([b, nh, t, d]);
      const k = tf.randomNormal([b, nkv, t, d]);
      const v = tf.randomNormal([b, nkv, t, d]);
      // causal, and the last key of example 1 is padding
      const m = new Float32Array(b * t * t);
      for (let e = 0; e < b; e++) for (let i = 0; i < t; i++) for (let j = 0; j < t; j++) m[(e * t + i) * t + j] = j <= i && !(e === 1 && j === t - 1) ? 0 : -1e9;
      const mask = tf.tensor4d(m, [b, 1, t, t]);
      const w = tf.randomNormal([b, nh, t, d]);
      const loss = (f: typeof attentionCore) => (qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor) => tf.sum(tf.mul(tf.sin(f(qq, kk, vv, mask)), w));
      const ref = tf.grads(loss(attentionCoreReference))([q, k, v]);
      for (const f of [attentionCore, attentionCoreGrouped]) {
        const fast = tf.grads(loss(f))([q, k, v]);
        expect(tf.max(tf.abs(tf.sub(f(q, k, v, mask), attentionCoreReference(q, k, v, mask)))).dataSync()[0]).toBeLessThan(1e-5);
        fast.forEach((g, i) => expect(tf.max(tf.abs(tf.sub(g, ref[i]))).dataSync()[0]).toBeLessThan(1e-5));
      }
    });
  });
});

describe('layer-wise backward', () => {
  it.each([0, 1])('chains head, decoder-layer and embedding VJPs into the whole-tape gradients (fixture %i)', (k) => {
    const g = loadGolden(goldenDirs().shared[k]);
    const ckpt = Checkpoint.open(g.model);
    const model = CausalLM.fromCheckpoint(ckpt);
    const cfg = model.cfg;
    const w = model.weights;
    try {
      const whole = model.lossAndGrads(g.json);
      const pb = model.prepare(g.json);
      const ctx = makeContext(cfg, pb);
      const layerwise = new Map<string, Float32Array>();
      // forward, keeping only the hidden states at layer boundaries
      const hs: tf.Tensor[] = [embed(w.get(EMBED), pb.ids)];
      for (let i = 0; i < cfg.numLayers; i++) hs.push(tf.tidy(() => decoderLayer(hs[i], i, w, cfg, ctx)));
      // head VJP
      const hn = headWeightName(cfg);
      const [dh, dNorm, dHead] = tf.grads((h: tf.Tensor, n: tf.Tensor, wh: tf.Tensor) =>
        crossEntropy(head(h, { get: (x) => (x === FINAL_NORM ? n : x === hn ? wh : w.get(x)), getT: (x) => w.getT(x) }, cfg), pb.targets, pb.count),
      )([hs[cfg.numLayers], w.get(FINAL_NORM), w.get(hn)]);
      layerwise.set(FINAL_NORM, dNorm.dataSync() as Float32Array);
      layerwise.set(hn, new Float32Array(dHead.dataSync()));
      let dy = dh;
      for (let i = cfg.numLayers - 1; i >= 0; i--) {
        const r = decoderLayerVJP(hs[i], dy, i, w, cfg, ctx);
        for (const [n, t] of r.grads) layerwise.set(n, t.dataSync() as Float32Array);
        tf.dispose([...r.grads.values(), dy]);
        dy = r.dh;
      }
      const dE = embeddingGrad(dy.dataSync() as Float32Array, pb.ids, cfg.vocabSize, cfg.hiddenSize, cfg.tieWordEmbeddings ? layerwise.get(EMBED) : undefined);
      layerwise.set(EMBED, dE);
      tf.dispose([...hs, dy, dNorm, dHead]);
      disposeContext(ctx);
      const cmp = compareTensors(
        [...whole.grads].map(([name, want]) => ({ name, got: layerwise.get(name)!, want })),
        1e-5,
        'relL2',
      );
      if (cmp.failed.length > 0) throw new Error(cmp.report);
    } finally {
      model.dispose();
      ckpt.close();
      g.tensors.close();
    }
  });
});
