/**
 * The inputs of every linear layer over the calibration tokens, for the Wanda score
 * (src/score/wanda.ts: s_ij = |W_ij| · ‖X_j‖₂). One forward pass at θpre, one decoder layer at a
 * time (layer-outer, batch-inner: only one layer's weights and the batches' hidden states are
 * held), through the decoder block (layer.ts) with its input hook, accumulating Σ_t X_tj² per
 * input column j of each weight:
 *
 *   q, k, v   X = rmsnorm(h; w_in)                  (they share it)
 *   o         X = concat_heads(softmax(q kᵀ/√d + mask) v)   (the attention output before W_o)
 *   gate, up  X = rmsnorm(h₁; w_post)              (they share it)
 *   down      X = silu(gate(x)) ⊙ up(x)
 *   head      X = rmsnorm(h_L; w_norm)             (lm_head, or the embedding when tied)
 *
 * Which tokens: the positions t whose shifted target labels[t+1] ≠ −100 (`PreparedBatch.targets`),
 * i.e. the positions whose hidden state predicts a response token. These are exactly the positions
 * whose outputs enter the response loss L(x) that the gradient scores differentiate; the last
 * prompt token (it predicts the first response token) is in, the last response token (it predicts
 * nothing) and padding are out.
 *
 * The inputs are the block's own intermediates (the hook sees them as the forward computes them).
 * Reads are async (`await t.data()`), so this runs on webgpu too; sums are folded in float64 in
 * batch order.
 */
import * as tf from '@tensorflow/tfjs';
import { SilError } from '../errors';
import type { AttentionContext } from './attention';
import { type Batch, type PreparedBatch, prepareBatch } from './batch';
import { checkSequenceLength, type ModelConfig } from './config';
import { embed } from './embedding';
import { decoderLayer } from './layer';
import { disposeContext, headWeightName, makeContext } from './model';
import { EMBED, FINAL_NORM, type LayerLinear, layerParamNames, linearWeight } from './names';
import { modelOps } from './ops';
import { Weights, type WeightSource } from './weights';

export interface LinearInputSquares {
  /** weight tensor name → Σ_t X_tj² over the selected positions, one entry per input column */
  sums: Map<string, Float64Array>;
  /** selected positions (response-predicting tokens) */
  tokens: number;
  examples: number;
}

/** Σ_t x_tj² over the rows `sel` of x [N, cols] → [cols] (zeros when nothing is selected). */
function columnSquares(x: tf.Tensor, sel: tf.Tensor | null): tf.Tensor {
  if (!sel) return tf.zeros([x.shape[1]!]);
  return tf.sum(tf.square(tf.gather(x, sel)), 0);
}

function addInto(sums: Map<string, Float64Array>, names: readonly string[], v: Float32Array): void {
  for (const n of names) {
    let s = sums.get(n);
    if (!s) sums.set(n, (s = new Float64Array(v.length)));
    for (let j = 0; j < v.length; j++) s[j] += v[j];
  }
}

/**
 * Σ_t X_tj² for the input of every linear weight (names as stored: the tied head's is the
 * embedding's), over the response-predicting positions of `batches`. `onStep` is called after the
 * embedding, each layer and the head (numLayers + 2 steps).
 */
export async function linearInputSquares(cfg: ModelConfig, source: WeightSource, batches: readonly Batch[], onStep?: () => void): Promise<LinearInputSquares> {
  const pbs: PreparedBatch[] = batches.map((b) => {
    const pb = prepareBatch(b, cfg.vocabSize);
    checkSequenceLength(cfg, pb.seqLen);
    return pb;
  });
  const tokens = pbs.reduce((a, pb) => a + pb.count, 0);
  if (tokens === 0) throw new SilError('INVALID_DATA', 'no position predicts a response token (labels are all −100 after the causal shift)');
  const sums = new Map<string, Float64Array>();
  const weights = new Weights(cfg, source);
  const ctxs: AttentionContext[] = [];
  const sels: Array<tf.Tensor | null> = [];
  let hs: tf.Tensor[] = [];
  try {
    for (const pb of pbs) {
      ctxs.push(makeContext(cfg, pb));
      const idx: number[] = [];
      for (let n = 0; n < pb.targets.length; n++) if (pb.targets[n] >= 0) idx.push(n);
      sels.push(idx.length ? tf.tensor1d(idx, 'int32') : null);
    }
    weights.loadNames([EMBED]);
    hs = pbs.map((pb) => embed(weights.get(EMBED), pb.ids));
    weights.release([EMBED]);
    onStep?.();
    for (let i = 0; i < cfg.numLayers; i++) {
      const names = layerParamNames(cfg, i);
      weights.loadNames(names);
      const w = (ls: readonly LayerLinear[]) => ls.map((l) => linearWeight(i, l));
      for (let b = 0; b < hs.length; b++) {
        const h = hs[b];
        const sel = sels[b];
        const ctx = ctxs[b];
        const sites: Array<readonly LayerLinear[]> = [];
        const [next, ...sq] = tf.tidy(() => {
          const squares: tf.Tensor[] = [];
          const y = decoderLayer(h, i, weights, cfg, ctx, {
            onInput: (linears, x) => {
              sites.push(linears);
              squares.push(columnSquares(x, sel));
            },
          });
          return [y, ...squares];
        });
        const vals = await Promise.all(sq.map((t) => t.data() as Promise<Float32Array>));
        tf.dispose(sq);
        sites.forEach((linears, k) => addInto(sums, w(linears), vals[k]));
        h.dispose();
        hs[b] = next;
      }
      weights.release(names);
      onStep?.();
    }
    weights.loadNames([FINAL_NORM]);
    for (let b = 0; b < hs.length; b++) {
      const sq = tf.tidy(() => columnSquares(modelOps().rmsNorm(hs[b], weights.get(FINAL_NORM), cfg.rmsNormEps), sels[b]));
      const v = (await sq.data()) as Float32Array;
      sq.dispose();
      addInto(sums, [headWeightName(cfg)], v);
    }
    onStep?.();
    return { sums, tokens, examples: pbs.reduce((a, pb) => a + pb.batch, 0) };
  } finally {
    tf.dispose(hs);
    tf.dispose(sels.filter((s): s is tf.Tensor => s !== null));
    for (const c of ctxs) disposeContext(c);
    weights.dispose();
  }
}

/** ‖X_j‖₂ per weight from the squared sums. */
export function inputNormsOf(sums: ReadonlyMap<string, Float64Array>): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [n, s] of sums) out.set(n, Float32Array.from(s, Math.sqrt));
  return out;
}
