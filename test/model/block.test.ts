/**
 * The one decoder block (src/model/layer.ts) and its hooks, and the ops seam (src/model/ops.ts)
 * through which a backend supplies its own kernels.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Checkpoint } from '../../src/io/checkpoint';
import { useBackend } from '../../src/model/backend';
import { embed } from '../../src/model/embedding';
import { decoderLayer, type KvPair } from '../../src/model/layer';
import { CausalLM, disposeContext, makeContext } from '../../src/model/model';
import { EMBED } from '../../src/model/names';
import { modelOps, registerModelOps, swiglu, tfjsOps, unregisterModelOps } from '../../src/model/ops';
import { ropeTables } from '../../src/model/rope';

const TINY = path.resolve(__dirname, '../../weights/tiny/base');
const IDS = [5, 17, 200, 3, 44];

describe('the decoder block', () => {
  let model: CausalLM;
  beforeAll(async () => {
    await useBackend('wasm');
    const ckpt = Checkpoint.open(TINY);
    model = CausalLM.fromCheckpoint(ckpt);
    ckpt.close();
  });
  afterAll(() => model.dispose());

  /** layer 0 over IDS at once: [T, hidden] */
  function whole(hooks = {}): Float32Array {
    const cfg = model.cfg;
    const pb = model.prepare({ input_ids: [IDS], attention_mask: [IDS.map(() => 1)], labels: [IDS] });
    const ctx = makeContext(cfg, pb);
    try {
      return tf.tidy(() => decoderLayer(embed(model.weights.get(EMBED), pb.ids), 0, model.weights, cfg, ctx, hooks)).dataSync() as Float32Array;
    } finally {
      disposeContext(ctx);
    }
  }

  it('with the KV-cache hook gives the last position, fed alone after the others, the output it has in the whole sequence', () => {
    const cfg = model.cfg;
    const { hiddenSize: H, headDim: D } = cfg;
    const T = IDS.length;
    const table = ropeTables(cfg.rope, D, T);
    const want = whole().slice((T - 1) * H, T * H);
    let cache: KvPair | null = null;
    const step = (ids: number[], from: number): Float32Array => {
      const t = ids.length;
      const ctx = {
        batch: 1,
        seqLen: t,
        cos: tf.tensor2d(table.cos.slice(from * D, (from + t) * D), [t, D]),
        sin: tf.tensor2d(table.sin.slice(from * D, (from + t) * D), [t, D]),
        // query i (position from + i) sees keys 0 … from + i
        mask: tf.tensor4d(
          Float32Array.from({ length: t * (from + t) }, (_, n) => (n % (from + t) <= from + Math.floor(n / (from + t)) ? 0 : -1e9)),
          [1, 1, t, from + t],
        ),
      };
      const kept: tf.Tensor[] = [];
      const out = tf.tidy(() => {
        const y = decoderLayer(embed(model.weights.get(EMBED), Int32Array.from(ids)), 0, model.weights, cfg, ctx, {
          cache: { past: cache, keep: (kv: KvPair) => kept.push(kv.k, kv.v) },
        });
        return [y, ...kept];
      });
      if (cache) tf.dispose([cache.k, cache.v]);
      cache = { k: out[1], v: out[2] };
      tf.dispose([ctx.cos, ctx.sin, ctx.mask]);
      const y = out[0].dataSync() as Float32Array;
      out[0].dispose();
      return y;
    };
    step(IDS.slice(0, T - 1), 0);
    expect(cache!.k.shape).toEqual([1, cfg.numKvHeads, T - 1, D]);
    const got = step(IDS.slice(T - 1), T - 1);
    expect(cache!.k.shape).toEqual([1, cfg.numKvHeads, T, D]);
    tf.dispose([cache!.k, cache!.v]);
    const diff = Math.max(...Array.from(got, (x, j) => Math.abs(x - want[j])));
    expect(diff).toBeLessThan(1e-5);
  });

  it('shows its input hook the inputs of q/k/v, o, gate/up and down, in that order and with their widths, without changing the output', () => {
    const cfg = model.cfg;
    const seen: Array<{ linears: readonly string[]; shape: number[] }> = [];
    const hooked = whole({ onInput: (linears: readonly string[], x: tf.Tensor) => seen.push({ linears, shape: x.shape }) });
    const T = IDS.length;
    expect(seen).toEqual([
      { linears: ['q', 'k', 'v'], shape: [T, cfg.hiddenSize] },
      { linears: ['o'], shape: [T, cfg.numHeads * cfg.headDim] },
      { linears: ['gate', 'up'], shape: [T, cfg.hiddenSize] },
      { linears: ['down'], shape: [T, cfg.intermediateSize] },
    ]);
    expect(hooked).toEqual(whole());
  });

  it('runs the ops a backend registered in place of the TF.js composites, and the composites for the rest', () => {
    const before = whole();
    let calls = 0;
    registerModelOps(tf.getBackend(), {
      swiglu: (g, u) => {
        calls++;
        return swiglu(g, u);
      },
    });
    try {
      expect(modelOps().rmsNorm).toBe(tfjsOps.rmsNorm);
      expect(modelOps().swiglu).not.toBe(tfjsOps.swiglu);
      expect(whole()).toEqual(before);
      expect(calls).toBe(1);
    } finally {
      unregisterModelOps(tf.getBackend());
    }
    expect(modelOps()).toBe(tfjsOps);
  });
});
