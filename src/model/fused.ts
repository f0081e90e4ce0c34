/**
 * The seam between the model's math and backends that have fused kernels for parts of it. Model code
 * calls these ops through `fusedOps()`: when the active TF.js backend registered an implementation
 * (the cuda backend does, src/cuda/fused.ts) it runs as one kernel forward and one backward, each
 * with its gradient on the tape; otherwise (`undefined`) the model runs its TF.js composite, which
 * stays the reference on every other backend. Each op computes what the composite next to its call
 * site computes (tests hold the two equal).
 *
 * SIL_FUSED=0 turns the fused ops off (for measurements and comparisons).
 */
import * as tf from '@tensorflow/tfjs';

export interface FusedOps {
  /** w ⊙ x / √(mean(x², last axis) + ε) */
  rmsNorm(x: tf.Tensor, w: tf.Tensor, eps: number): tf.Tensor;
  /**
   * x [B·T, heads·D] → [B, heads, T, D], with RoPE (rotate_half form, tables [T, D]) when `rope` is
   * given: transpose(reshape(x)) followed by `applyRope`
   */
  splitHeads(x: tf.Tensor, b: number, t: number, heads: number, d: number, rope?: { cos: tf.Tensor; sin: tf.Tensor }): tf.Tensor;
  /** [B, heads, T, D] → [B·T, heads·D] */
  mergeHeads(x: tf.Tensor): tf.Tensor;
  /** softmax(s · scale + mask) over the last axis; s [B, heads, T, T], mask [B, 1, T, T] additive (a constant) */
  maskedSoftmax(s: tf.Tensor, mask: tf.Tensor, scale: number): tf.Tensor;
  /** silu(g) ⊙ u */
  swiglu(g: tf.Tensor, u: tf.Tensor): tf.Tensor;
  /**
   * One vocabulary chunk's step of the running log-sum-exp: z [N, C] logits of head rows r0 … r0+C,
   * running max m, sum s and target logit zt [N] → the updated three (no gradient)
   */
  lseChunk(z: tf.Tensor2D, m: tf.Tensor1D, s: tf.Tensor1D, zt: tf.Tensor1D, targets: Int32Array, r0: number): [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
  /** (exp(z − lse) − onehot(targets − r0)) · scale, z [N, C] (no gradient) */
  ceChunkGrad(z: tf.Tensor2D, lse: tf.Tensor1D, targets: Int32Array, r0: number, scale: tf.Tensor1D): tf.Tensor2D;
}

const registry = new Map<string, FusedOps>();

/** Registers a backend's fused ops (replacing earlier ones). */
export function registerFusedOps(backend: string, ops: FusedOps): void {
  registry.set(backend, ops);
}

/** The active backend's fused ops, or undefined (use the TF.js composite). */
export function fusedOps(): FusedOps | undefined {
  if (process.env.SIL_FUSED === '0') return undefined;
  return registry.get(tf.getBackend());
}
