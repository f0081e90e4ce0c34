/**
 * Causal multi-head self-attention with grouped-query heads (GQA; MHA when kv heads = heads), as in
 * transformers' eager attention:
 *   q, k, v = x W_qᵀ, x W_kᵀ, x W_vᵀ (+ biases), split into heads, RoPE on q and k,
 *   k, v repeated n_heads / n_kv_heads times (repeat_kv: each kv head serves consecutive q heads),
 *   a = softmax(q kᵀ / √head_dim + mask) v,   out = concat_heads(a) W_oᵀ (+ b_o)
 * `mask` is additive [B, 1, T, T]: 0 where key j ≤ query i and j is not padding, −1e9 elsewhere.
 * The repeat uses a rank-4 tile (rank-5 tile has no gradient in TF.js).
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from './config';
import { linear, LinearParams } from './linear';
import { applyRope } from './rope';

export interface AttentionParams {
  q: LinearParams;
  k: LinearParams;
  v: LinearParams;
  o: LinearParams;
}

/** Per-batch constants shared by every layer. */
export interface AttentionContext {
  batch: number;
  seqLen: number;
  /** [T, head_dim] */
  cos: tf.Tensor;
  sin: tf.Tensor;
  /** additive [B, 1, T, T] */
  mask: tf.Tensor;
}

/** [N, heads·D] → [B, heads, T, D] */
function splitHeads(x: tf.Tensor, b: number, t: number, heads: number, d: number): tf.Tensor {
  return tf.transpose(tf.reshape(x, [b, t, heads, d]), [0, 2, 1, 3]);
}

/** repeat_kv: [B, kv, T, D] → [B, kv·rep, T, D], kv head j serving q heads j·rep … j·rep+rep−1 */
export function repeatKv(x: tf.Tensor, rep: number): tf.Tensor {
  if (rep === 1) return x;
  const [b, kv, t, d] = x.shape;
  const tiled = tf.tile(tf.reshape(x, [b, kv, 1, t * d]), [1, 1, rep, 1]);
  return tf.reshape(tiled, [b, kv * rep, t, d]);
}

/** x [N = B·T, hidden] (already normed) → [N, hidden] */
export function attention(x: tf.Tensor, p: AttentionParams, cfg: ModelConfig, ctx: AttentionContext): tf.Tensor {
  const { batch: b, seqLen: t } = ctx;
  const { numHeads: nh, numKvHeads: nkv, headDim: d } = cfg;
  const q = applyRope(splitHeads(linear(x, p.q), b, t, nh, d), ctx.cos, ctx.sin);
  const k = applyRope(splitHeads(linear(x, p.k), b, t, nkv, d), ctx.cos, ctx.sin);
  const v = splitHeads(linear(x, p.v), b, t, nkv, d);
  const kr = repeatKv(k, nh / nkv);
  const vr = repeatKv(v, nh / nkv);
  const scores = tf.add(tf.mul(tf.matMul(q, kr, false, true), 1 / Math.sqrt(d)), ctx.mask);
  const a = tf.matMul(tf.softmax(scores), vr);
  const merged = tf.reshape(tf.transpose(a, [0, 2, 1, 3]), [b * t, nh * d]);
  return linear(merged, p.o);
}
