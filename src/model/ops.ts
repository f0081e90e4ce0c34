/**
 * The ops of a decoder block that a backend may replace with fused kernels, behind one seam:
 *
 *   rmsNorm(x, w, ε)            w ⊙ x / sqrt(mean(x², last axis) + ε)              (norm.ts)
 *   rope(x, cos, sin)           x · cos + rotate_half(x) · sin                      (rope.ts)
 *   splitHeads(x, …, rope?)     [B·T, heads·D] → [B, heads, T, D], then rope when given
 *   mergeHeads(a, …)            [B, heads, T, D] → [B·T, heads·D]
 *   swiglu(g, u)                silu(g) ⊙ u = g · σ(g) ⊙ u                          (SwiGLU, Shazeer 2020)
 *   attention(q, k, v, mask)    softmax(q kᵀ/√D + mask) v over one sequence's T    (attention.ts)
 *   cachedAttention(q, k, v, m) the same with keys/values of earlier positions (Tq ≤ Tk, a KV cache)
 *   crossEntropy(z, t, d)       Σ valid (lse(z) − z_t) / d                         (loss.ts)
 *   lseChunk, ceChunkGrad       optional: the vocabulary-chunked head's running log-sum-exp and ∂z
 *                               (stream/head.ts keeps its composites when a backend has none)
 *
 * The cuda backend registers its fused kernels (src/cuda/fused.ts) here; SIL_FUSED=0 turns them off
 * (the composites then run on cuda too, for comparisons).
 *
 * `modelOps()` gives the ops for the current TF.js backend: the TF.js composites below unless a
 * backend registered its own (`registerModelOps`), each with a gradient where the model
 * differentiates it. The composites are what the model computes; a replacement must compute the
 * same (within float32 rounding) and is held to them by a test.
 */
import * as tf from '@tensorflow/tfjs';
import { cudaFusedOps, cudaLayerForward, cudaLayerVJP, type FusedOps, KeptLayer, type LayerWeights } from '../cuda';
import type { AttentionContext } from './attention';
import type { ModelConfig } from './config';
import type { Params } from './params';
import { inputNorm, layerParamNames, linearWeight, postAttentionNorm } from './names';
import { attentionCore, attentionCoreGrouped, attentionCoreReference } from './attention';
import { plainMatmulsOnly } from './linear';
import { crossEntropy, crossEntropyFused } from './loss';
import { rmsNorm } from './norm';
import { applyRope } from './rope';

export interface ModelOps {
  /** x [..., H], w [H] → [..., H] */
  rmsNorm(x: tf.Tensor, weight: tf.Tensor, eps: number): tf.Tensor;
  /** x [B, heads, T, D]; cos, sin broadcastable to it ([T, D] or [B, 1, T, D]) */
  rope(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor;
  /** x [B·T, heads·D] → [B, heads, T, D], with `rope` applied when given */
  splitHeads(x: tf.Tensor, b: number, t: number, heads: number, d: number, rope?: { cos: tf.Tensor; sin: tf.Tensor }): tf.Tensor;
  /** a [B, heads, T, D] → [B·T, heads·D] */
  mergeHeads(a: tf.Tensor, b: number, t: number, heads: number, d: number): tf.Tensor;
  /** gate and up projections [N, F] → silu(gate) ⊙ up [N, F] */
  swiglu(gate: tf.Tensor, up: tf.Tensor): tf.Tensor;
  /** q [B, nh, T, D], k, v [B, nkv, T, D] (after RoPE), additive mask [B, 1, T, T] → [B, nh, T, D] */
  attention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask: tf.Tensor): tf.Tensor;
  /** q [B, nh, Tq, D], k, v [B, nkv, Tk, D] (cache ++ new), mask [B, 1, Tq, Tk] → [B, nh, Tq, D]; forward only */
  cachedAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask: tf.Tensor): tf.Tensor;
  /** logits [N, V], targets [N] (−1 = none) → the summed token losses / denominator */
  crossEntropy(logits: tf.Tensor, targets: Int32Array, denominator: number): tf.Scalar;
  /** one vocabulary chunk's step of the head's running log-sum-exp (see FusedOps.lseChunk); no gradient */
  lseChunk?: FusedOps['lseChunk'];
  /** the head's ∂z over one vocabulary chunk (see FusedOps.ceChunkGrad); no gradient */
  ceChunkGrad?: FusedOps['ceChunkGrad'];
  /** optional: the streamed engine's embedding-gradient rows summed on the backend (see FusedOps.rowsSum) */
  rowsSum?: FusedOps['rowsSum'];
  /** optional: the same rows added in place into a gradient sum on the backend (see FusedOps.rowsSumInto) */
  rowsSumInto?: FusedOps['rowsSumInto'];
  /** optional: the streamed engine's embedding lookup from a table kept on the backend (see FusedOps.embedRows) */
  embedRows?: FusedOps['embedRows'];
  /**
   * optional: decoder layer i's forward written out, as `decoderLayer` computes it, with (`keep`)
   * what `layerVJP` reads so that it need not recompute the forward; null where it does not apply
   * (then `decoderLayer` runs, and `layerVJP` recomputes)
   */
  layerForward?(h: tf.Tensor, i: number, p: Params, cfg: ModelConfig, ctx: AttentionContext, keep: boolean): { y: tf.Tensor; kept: KeptActivations | null } | null;
  /**
   * optional: decoder layer i's whole VJP (the forward recomputed unless kept, and the backward)
   * without the TF.js tape, as `decoderLayerVJP` computes it; null where it does not apply (layer.ts
   * then uses the tape)
   */
  layerVJP?(h: tf.Tensor, dy: tf.Tensor, i: number, p: Params, cfg: ModelConfig, ctx: AttentionContext, o?: LayerVJPOptions): { dh: tf.Tensor; grads: Map<string, tf.Tensor> } | null;
}

/** A layer's forward state kept on the backend for its VJP (`layerForward`); the holder disposes it. */
export interface KeptActivations {
  dispose(): void;
}

export interface LayerVJPOptions {
  /** what `layerForward` kept for this h */
  kept?: KeptActivations | null;
  /**
   * a float32 sum on the backend to add parameter `name`'s gradient into in place (a backend that
   * can leaves that name out of the returned gradients; one that cannot returns it as usual)
   */
  into?: (name: string) => tf.Tensor | undefined;
}

/** [N, heads·D] → [B, heads, T, D] */
export function splitHeads(x: tf.Tensor, b: number, t: number, heads: number, d: number): tf.Tensor {
  return tf.transpose(tf.reshape(x, [b, t, heads, d]), [0, 2, 1, 3]);
}

/** [B, heads, T, D] → [N, heads·D] */
export function mergeHeads(a: tf.Tensor, b: number, t: number, heads: number, d: number): tf.Tensor {
  return tf.reshape(tf.transpose(a, [0, 2, 1, 3]), [b * t, heads * d]);
}

/** silu(g) ⊙ u */
export function swiglu(gate: tf.Tensor, up: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(gate, tf.sigmoid(gate)), up);
}

/** The TF.js composites: the reference every backend's ops are held to. */
export const tfjsOps: ModelOps = {
  rmsNorm,
  rope: applyRope,
  splitHeads: (x, b, t, heads, d, rope) => (rope ? applyRope(splitHeads(x, b, t, heads, d), rope.cos, rope.sin) : splitHeads(x, b, t, heads, d)),
  mergeHeads,
  swiglu,
  // the per-group 2-D form where the backend multiplies only plain matrices fast, batched elsewhere
  attention: (q, k, v, mask) => (plainMatmulsOnly() ? attentionCore : attentionCoreGrouped)(q, k, v, mask),
  cachedAttention: attentionCoreReference,
  crossEntropy,
};

/**
 * The model's ops over a backend's fused kernels: each fused op computes its composite above (held
 * to it by test/cuda/emulated.test.ts). The attention core is the batched grouped form with the
 * scores' scale, mask and softmax in one kernel; RoPE tables other than [T, D] (per-sequence
 * positions in greedy decoding) keep the composite.
 */
export function fusedModelOps(f: FusedOps): Partial<ModelOps> {
  return {
    rmsNorm: f.rmsNorm,
    splitHeads: (x, b, t, heads, d, rope) =>
      !rope || (rope.cos.rank === 2 && rope.sin.rank === 2) ? f.splitHeads(x, b, t, heads, d, rope) : applyRope(f.splitHeads(x, b, t, heads, d), rope.cos, rope.sin),
    mergeHeads: (a) => f.mergeHeads(a),
    swiglu: f.swiglu,
    attention: (q, k, v, mask) => {
      const [b, nh, t, d] = q.shape as [number, number, number, number];
      const nkv = k.shape[1] as number;
      const rep = nh / nkv;
      const s = tf.matMul(tf.reshape(q, [b, nkv, rep * t, d]), k, false, true);
      const p = f.maskedSoftmax(tf.reshape(s, [b, nh, t, t]), mask, 1 / Math.sqrt(d));
      return tf.reshape(tf.matMul(tf.reshape(p, [b, nkv, rep * t, t]), v), [b, nh, t, d]);
    },
    crossEntropy: (z, targets, denominator) => crossEntropyFused(f, z, targets, denominator),
    lseChunk: f.lseChunk,
    ceChunkGrad: f.ceChunkGrad,
    rowsSum: f.rowsSum,
    rowsSumInto: f.rowsSumInto,
    embedRows: f.embedRows,
  };
}

/** Whether the cuda backend runs this model's layers written out (no biases; SIL_CUDA_LAYER=0 turns it off). */
export function cudaWritesLayers(cfg: ModelConfig): boolean {
  return process.env.SIL_CUDA_LAYER !== '0' && process.env.SIL_FUSED !== '0' && !cfg.qkvBias && !cfg.oBias && !cfg.mlpBias;
}

/** Layer i's weights by role, and their names; null where the written-out layer does not apply. */
function writtenLayer(i: number, p: Params, cfg: ModelConfig, ctx: AttentionContext): { w: LayerWeights; names: LayerWeights<string> } | null {
  if (!cudaWritesLayers(cfg) || ctx.cos.rank !== 2 || ctx.mask.shape[3] !== ctx.seqLen) return null;
  const names: LayerWeights<string> = {
    inNorm: inputNorm(i),
    postNorm: postAttentionNorm(i),
    q: linearWeight(i, 'q'),
    k: linearWeight(i, 'k'),
    v: linearWeight(i, 'v'),
    o: linearWeight(i, 'o'),
    gate: linearWeight(i, 'gate'),
    up: linearWeight(i, 'up'),
    down: linearWeight(i, 'down'),
  };
  const w = Object.fromEntries(Object.entries(names).map(([key, n]) => [key, p.get(n)])) as unknown as LayerWeights;
  return { w, names };
}

function layerShape(cfg: ModelConfig, ctx: AttentionContext) {
  return { batch: ctx.batch, seqLen: ctx.seqLen, hidden: cfg.hiddenSize, heads: cfg.numHeads, kvHeads: cfg.numKvHeads, headDim: cfg.headDim, ffn: cfg.intermediateSize, eps: cfg.rmsNormEps };
}

/**
 * The cuda backend's written-out layer forward and VJP (src/cuda/layer.ts) for the layers it covers:
 * no biases, RoPE tables [T, D], no KV cache (any additive mask); SIL_CUDA_LAYER=0 keeps the tape.
 */
function cudaLayerOps(): Partial<ModelOps> {
  return {
    layerForward: (h, i, p, cfg, ctx, keep) => {
      const l = writtenLayer(i, p, cfg, ctx);
      return l ? cudaLayerForward(h, l.w, layerShape(cfg, ctx), ctx.cos, ctx.sin, ctx.mask, keep) : null;
    },
    layerVJP: (h, dy, i, p, cfg, ctx, o = {}) => {
      const l = writtenLayer(i, p, cfg, ctx);
      if (!l) return null;
      const keys = Object.keys(l.names) as Array<keyof LayerWeights>;
      const into: Partial<LayerWeights> = {};
      for (const key of keys) {
        const sum = o.into?.(l.names[key]);
        if (sum) into[key] = sum;
      }
      const kept = o.kept instanceof KeptLayer ? o.kept : null;
      const r = cudaLayerVJP(h, dy, l.w, layerShape(cfg, ctx), ctx.cos, ctx.sin, ctx.mask, { kept, into });
      const byName = new Map(keys.filter((key) => r.grads[key]).map((key) => [l.names[key], r.grads[key]!]));
      return { dh: r.dh, grads: new Map(layerParamNames(cfg, i).flatMap((n) => (byName.has(n) ? [[n, byName.get(n)!] as const] : []))) };
    },
  };
}

const byBackend = new Map<string, ModelOps>([['cuda', { ...tfjsOps, ...fusedModelOps(cudaFusedOps), ...cudaLayerOps() }]]);

/** Ops for backend `name`: the given ones replace the TF.js composites (the others stay). */
export function registerModelOps(name: string, ops: Partial<ModelOps>): void {
  byBackend.set(name, { ...tfjsOps, ...ops });
}

/** Forgets what `registerModelOps` set for backend `name` (its ops are the composites again). */
export function unregisterModelOps(name: string): void {
  byBackend.delete(name);
}

/** The ops of the current TF.js backend. */
export function modelOps(): ModelOps {
  if (process.env.SIL_FUSED === '0') return tfjsOps;
  return byBackend.get(tf.getBackend()) ?? tfjsOps;
}
