/**
 * The ops of a decoder block that a backend may replace with fused kernels, behind one seam:
 *
 *   rmsNorm(x, w, ε)            w ⊙ x / sqrt(mean(x², last axis) + ε)              (norm.ts)
 *   rope(x, cos, sin)           x · cos + rotate_half(x) · sin                      (rope.ts)
 *   swiglu(g, u)                silu(g) ⊙ u = g · σ(g) ⊙ u                          (SwiGLU, Shazeer 2020)
 *   attention(q, k, v, mask)    softmax(q kᵀ/√D + mask) v over one sequence's T    (attention.ts)
 *   cachedAttention(q, k, v, m) the same with keys/values of earlier positions (Tq ≤ Tk, a KV cache)
 *   crossEntropy(z, t, d)       Σ valid (lse(z) − z_t) / d                         (loss.ts)
 *
 * `modelOps()` gives the ops for the current TF.js backend: the TF.js composites below unless a
 * backend registered its own (`registerModelOps`), each with a gradient where the model
 * differentiates it. The composites are what the model computes; a replacement must compute the
 * same (within float32 rounding) and is held to them by a test.
 */
import * as tf from '@tensorflow/tfjs';
import { attentionCore, attentionCoreGrouped, attentionCoreReference } from './attention';
import { plainMatmulsOnly } from './linear';
import { crossEntropy } from './loss';
import { rmsNorm } from './norm';
import { applyRope } from './rope';

export interface ModelOps {
  /** x [..., H], w [H] → [..., H] */
  rmsNorm(x: tf.Tensor, weight: tf.Tensor, eps: number): tf.Tensor;
  /** x [B, heads, T, D]; cos, sin broadcastable to it ([T, D] or [B, 1, T, D]) */
  rope(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor;
  /** gate and up projections [N, F] → silu(gate) ⊙ up [N, F] */
  swiglu(gate: tf.Tensor, up: tf.Tensor): tf.Tensor;
  /** q [B, nh, T, D], k, v [B, nkv, T, D] (after RoPE), additive mask [B, 1, T, T] → [B, nh, T, D] */
  attention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask: tf.Tensor): tf.Tensor;
  /** q [B, nh, Tq, D], k, v [B, nkv, Tk, D] (cache ++ new), mask [B, 1, Tq, Tk] → [B, nh, Tq, D]; forward only */
  cachedAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask: tf.Tensor): tf.Tensor;
  /** logits [N, V], targets [N] (−1 = none) → the summed token losses / denominator */
  crossEntropy(logits: tf.Tensor, targets: Int32Array, denominator: number): tf.Scalar;
}

/** silu(g) ⊙ u */
export function swiglu(gate: tf.Tensor, up: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(gate, tf.sigmoid(gate)), up);
}

/** The TF.js composites: the reference every backend's ops are held to. */
export const tfjsOps: ModelOps = {
  rmsNorm,
  rope: applyRope,
  swiglu,
  // the per-group 2-D form where the backend multiplies only plain matrices fast, batched elsewhere
  attention: (q, k, v, mask) => (plainMatmulsOnly() ? attentionCore : attentionCoreGrouped)(q, k, v, mask),
  cachedAttention: attentionCoreReference,
  crossEntropy,
};

const byBackend = new Map<string, ModelOps>();

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
  return byBackend.get(tf.getBackend()) ?? tfjsOps;
}
