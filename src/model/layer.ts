/**
 * The decoder block (Llama/Qwen2/Mistral), written once: the in-memory model (model.ts), the
 * layer-streamed engine (stream/), Wanda's input norms (inputs.ts) and greedy decoding (generate/)
 * all run this function. Pre-norm:
 *
 *   x  = rmsnorm(h; w_in)
 *   q, k, v = x W_qᵀ, x W_kᵀ, x W_vᵀ (+ biases), split into heads, RoPE on q and k
 *   a  = concat_heads(softmax(q kᵀ/√D + mask) v)                (GQA: kv head g serves rep q heads)
 *   h₁ = h + a W_oᵀ (+ b_o)
 *   x₂ = rmsnorm(h₁; w_post)
 *   m  = silu(x₂ W_gateᵀ) ⊙ (x₂ W_upᵀ)                          (SwiGLU)
 *   h' = h₁ + m W_downᵀ
 *
 * The norms, RoPE, SwiGLU and the attention core come from `modelOps()` (ops.ts), where a backend
 * may put fused kernels; the linear layers from linear.ts. Hooks:
 * - `onInput(linears, x)` sees the input of each group of linear weights (x for q, k, v; the merged
 *   heads for o; x₂ for gate, up; m for down): Wanda's ‖X_j‖₂ (inputs.ts).
 * - `cache` is a KV cache: the new post-RoPE keys and values (before the GQA repeat) are appended
 *   to `past` along the time axis, handed to `keep`, and the queries attend over all of them with
 *   `cachedAttention` (the mask then spans cache ++ new positions): greedy decoding (generate/).
 *
 * `decoderLayerVJP` is its vector–Jacobian product, the unit of layer-wise backprop: given the layer
 * input h and the upstream gradient ∂L/∂h_out, it returns ∂L/∂h_in and every parameter's gradient of
 * this layer. `Params` maps checkpoint tensor names to tensors, so the same code runs on weights
 * loaded once (whole model) or per layer (streamed). `layerForward` is the forward that layer-wise
 * backprop runs: a backend with the layer written out (ops.ts `layerForward`) can keep what the VJP
 * reads, which then does not recompute the forward.
 */
import * as tf from '@tensorflow/tfjs';
import type { AttentionContext } from './attention';
import type { ModelConfig } from './config';
import { linear, type LinearParams } from './linear';
import { hasBias, inputNorm, type LayerLinear, layerParamNames, linearBias, linearWeight, postAttentionNorm } from './names';
import { type KeptActivations, type LayerVJPOptions, modelOps } from './ops';
import type { Params } from './params';

export type { Params } from './params';

/** One layer's cached keys and values, [B, kv_heads, T, head_dim] each (post-RoPE, before the GQA repeat). */
export interface KvPair {
  k: tf.Tensor;
  v: tf.Tensor;
}

export interface BlockHooks {
  /** called with the input of the linear weights `linears` (Wanda's input norms) */
  onInput?: (linears: readonly LayerLinear[], x: tf.Tensor) => void;
  /** a KV cache: attend over `past` ++ the new keys and values, and hand the grown cache to `keep` */
  cache?: { past: KvPair | null; keep: (kv: KvPair) => void };
}

export function linearParams(p: Params, cfg: ModelConfig, i: number, l: LayerLinear): LinearParams {
  return { w: p.get(linearWeight(i, l)), b: hasBias(cfg, l) ? p.get(linearBias(i, l)) : undefined };
}

/**
 * h [N = B·T, hidden] → [N, hidden]. `ctx` gives B and T of the new positions, their RoPE tables
 * (broadcast over heads) and the additive mask (over cache ++ new positions with a KV cache).
 */
export function decoderLayer(h: tf.Tensor, i: number, p: Params, cfg: ModelConfig, ctx: AttentionContext, hooks: BlockHooks = {}): tf.Tensor {
  const ops = modelOps();
  const { batch: b, seqLen: t } = ctx;
  const { numHeads: nh, numKvHeads: nkv, headDim: d, rmsNormEps: eps } = cfg;
  const lp = (l: LayerLinear) => linearParams(p, cfg, i, l);
  // attention
  const x = ops.rmsNorm(h, p.get(inputNorm(i)), eps);
  hooks.onInput?.(['q', 'k', 'v'], x);
  const rope = { cos: ctx.cos, sin: ctx.sin };
  const q = ops.splitHeads(linear(x, lp('q')), b, t, nh, d, rope);
  let k = ops.splitHeads(linear(x, lp('k')), b, t, nkv, d, rope);
  let v = ops.splitHeads(linear(x, lp('v')), b, t, nkv, d);
  let a: tf.Tensor;
  if (hooks.cache) {
    const past = hooks.cache.past;
    if (past) {
      k = tf.concat([past.k, k], 2);
      v = tf.concat([past.v, v], 2);
    }
    hooks.cache.keep({ k, v });
    a = ops.cachedAttention(q, k, v, ctx.mask);
  } else a = ops.attention(q, k, v, ctx.mask);
  const merged = ops.mergeHeads(a, b, t, nh, d);
  hooks.onInput?.(['o'], merged);
  const h1 = tf.add(h, linear(merged, lp('o')));
  // feed-forward
  const x2 = ops.rmsNorm(h1, p.get(postAttentionNorm(i)), eps);
  hooks.onInput?.(['gate', 'up'], x2);
  const m = ops.swiglu(linear(x2, lp('gate')), linear(x2, lp('up')));
  hooks.onInput?.(['down'], m);
  return tf.add(h1, linear(m, lp('down')));
}

/** Params whose `get` returns substitutes for some names (the tensors being differentiated). */
export function overlay(base: Params, names: string[], xs: tf.Tensor[]): Params {
  const m = new Map<string, tf.Tensor>();
  names.forEach((n, k) => m.set(n, xs[k]));
  return { get: (n) => m.get(n) ?? base.get(n), getT: (n) => base.getT(n) };
}

/**
 * h' = layer i(h) for layer-wise backprop (no hooks): the backend's written-out forward where it has
 * one, with (`keep`) what the VJP reads kept for `decoderLayerVJP` (the caller disposes it); else
 * `decoderLayer` (nothing kept).
 */
export function layerForward(h: tf.Tensor, i: number, p: Params, cfg: ModelConfig, ctx: AttentionContext, keep: boolean): { y: tf.Tensor; kept: KeptActivations | null } {
  const written = modelOps().layerForward?.(h, i, p, cfg, ctx, keep);
  if (written) return written;
  return { y: tf.tidy(() => decoderLayer(h, i, p, cfg, ctx)), kept: null };
}

/**
 * VJP of decoder layer i at input h with upstream gradient dy: recomputes the layer's forward
 * (unless `o.kept` holds it) and returns ∂L/∂h and ∂L/∂θ for every parameter of the layer (names
 * from layerParamNames) except those whose gradient the backend added into `o.into(name)`. The
 * caller owns (and must dispose) the returned tensors.
 */
export function decoderLayerVJP(h: tf.Tensor, dy: tf.Tensor, i: number, p: Params, cfg: ModelConfig, ctx: AttentionContext, o: LayerVJPOptions = {}): { dh: tf.Tensor; grads: Map<string, tf.Tensor> } {
  const names = layerParamNames(cfg, i);
  const written = modelOps().layerVJP?.(h, dy, i, p, cfg, ctx, o);
  if (written) return written;
  const xs = [h, ...names.map((n) => p.get(n))];
  const g = tf.grads((...args: tf.Tensor[]) => decoderLayer(args[0], i, overlay(p, names, args.slice(1)), cfg, ctx));
  const out = g(xs, dy);
  return { dh: out[0], grads: new Map(names.map((n, k) => [n, out[k + 1]])) };
}
