/**
 * The output head over vocabulary chunks: logits = rmsnorm(h) W_headᵀ never exists whole.
 *
 * With hn = rmsnorm(h_L) [N, H] and the head's rows split into chunks W_c [C, H]:
 *   pass 1 (loss):      z_c = hn W_cᵀ;  online log-sum-exp over chunks
 *                         m ← max(m, max_v z_c),  s ← s·e^{m_old − m} + Σ_v e^{z_c − m}
 *                       lse = m + log s;  loss = Σ_n valid_n (lse_n − z_n[target_n]) / denominator
 *   pass 2 (gradient):  ∂z_c = (softmax(z)_c − onehot_c) · valid / denominator
 *                         ∂hn += ∂z_c W_c,   ∂W_c = ∂z_cᵀ hn
 * Only plain 2-D matmuls where the backend multiplies only those fast (wasm on its own kernels;
 * `plainMatmulsOnly`), transposed operands elsewhere (no copy of W_c or ∂z_c transposed), and every
 * buffer is at most [N, C] or [C, H], which keeps it under WebGPU's 2 GiB binding limit. All reads
 * to the host are async.
 */
import * as tf from '@tensorflow/tfjs';
import { modelOps } from '../model/ops';
import { plainMatmulsOnly } from '../model/linear';

/** z_c = hn W_cᵀ */
function chunkLogits(hn: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  return plainMatmulsOnly() ? tf.matMul(hn, tf.transpose(w)) : tf.matMul(hn, w, false, true);
}

export interface HeadChunk {
  /** first vocabulary row */
  r0: number;
  /** [C, H] */
  w: tf.Tensor2D;
}

/** targets shifted into the chunk's rows; −1 where the target lies elsewhere or is absent */
function localTargets(targets: Int32Array, r0: number, rows: number): Int32Array {
  const out = new Int32Array(targets.length);
  for (let n = 0; n < targets.length; n++) {
    const t = targets[n] - r0;
    out[n] = targets[n] >= 0 && t >= 0 && t < rows ? t : -1;
  }
  return out;
}

function oneHot(targets: Int32Array, r0: number, rows: number): tf.Tensor2D {
  return tf.cast(tf.oneHot(tf.tensor1d(localTargets(targets, r0, rows), 'int32'), rows), 'float32') as tf.Tensor2D;
}

/** Running log-sum-exp and target logit over chunks (pass 1). */
export class ChunkedLse {
  private m: tf.Tensor1D;
  private s: tf.Tensor1D;
  private zt: tf.Tensor1D;

  constructor(n: number) {
    this.m = tf.keep(tf.fill([n], -Infinity)) as tf.Tensor1D;
    this.s = tf.keep(tf.fill([n], 0)) as tf.Tensor1D;
    this.zt = tf.keep(tf.fill([n], 0)) as tf.Tensor1D;
  }

  add(hn: tf.Tensor2D, c: HeadChunk, targets: Int32Array): void {
    const fused = modelOps().lseChunk;
    const [m, s, zt] = tf.tidy(() => {
      const z = chunkLogits(hn, c.w);
      if (fused) return fused(z, this.m, this.s, this.zt, targets, c.r0).map((t) => tf.keep(t));
      const mNew = tf.maximum(this.m, tf.max(z, 1));
      const s = tf.add(tf.mul(this.s, tf.exp(tf.sub(this.m, mNew))), tf.sum(tf.exp(tf.sub(z, tf.expandDims(mNew, 1))), 1));
      const zt = tf.add(this.zt, tf.sum(tf.mul(z, oneHot(targets, c.r0, c.w.shape[0])), 1));
      return [tf.keep(mNew), tf.keep(s), tf.keep(zt)];
    });
    tf.dispose([this.m, this.s, this.zt]);
    this.m = m as tf.Tensor1D;
    this.s = s as tf.Tensor1D;
    this.zt = zt as tf.Tensor1D;
  }

  /**
   * lse [N] and the loss Σ valid·(lse − z_target) / denominator as a scalar on the backend (both
   * kept; the caller disposes them): nothing is read back here, so the GPU's queue is not drained
   */
  finish(targets: Int32Array, denominator: number): { lse: tf.Tensor1D; loss: tf.Scalar } {
    const valid = validWeights(targets, denominator);
    const lse = tf.keep(tf.tidy(() => tf.add(this.m, tf.log(this.s)))) as tf.Tensor1D;
    const loss = tf.keep(tf.tidy(() => tf.sum(tf.mul(tf.sub(lse, this.zt), valid)))) as tf.Scalar;
    tf.dispose([valid, this.m, this.s, this.zt]);
    return { lse, loss };
  }
}

/** valid_n / denominator as a [N] tensor */
export function validWeights(targets: Int32Array, denominator: number): tf.Tensor1D {
  const v = new Float32Array(targets.length);
  for (let n = 0; n < targets.length; n++) v[n] = targets[n] >= 0 ? 1 / denominator : 0;
  return tf.tensor1d(v);
}

/** ∂z_c = (softmax_c − onehot_c) · valid/denominator, [N, C] */
export function chunkLogitGrad(hn: tf.Tensor2D, c: HeadChunk, lse: tf.Tensor1D, targets: Int32Array, scale: tf.Tensor1D): tf.Tensor2D {
  const fused = modelOps().ceChunkGrad;
  return tf.tidy(() => {
    const z = chunkLogits(hn, c.w);
    if (fused) return fused(z, lse, targets, c.r0, scale);
    const p = tf.exp(tf.sub(z, tf.expandDims(lse, 1)));
    return tf.mul(tf.sub(p, oneHot(targets, c.r0, c.w.shape[0])), tf.expandDims(scale, 1)) as tf.Tensor2D;
  });
}

/** ∂hn contribution ∂z_c W_c, [N, H] */
export function chunkInputGrad(dz: tf.Tensor2D, c: HeadChunk): tf.Tensor2D {
  return tf.matMul(dz, c.w);
}

/** ∂W_c = ∂z_cᵀ hn, [C, H] */
export function chunkWeightGrad(dz: tf.Tensor2D, hn: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => (plainMatmulsOnly() ? tf.matMul(tf.transpose(dz), hn) : tf.matMul(dz, hn, true, false)));
}
