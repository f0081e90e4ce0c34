/**
 * RMSNorm (Zhang & Sennrich 2019), as in transformers' LlamaRMSNorm:
 *   y = w ⊙ x / sqrt(mean(x², last axis) + ε)
 *
 * The cuda backend runs its fused kernel (ops.ts); without it (SIL_FUSED=0) the gradient is written out (TF.js's own gradient of `mean` builds a host
 * array of ones the size of x and uploads it, for every norm of every layer):
 *   r = 1 / sqrt(mean(x²) + ε),  g = w ⊙ ∂y
 *   ∂x = r ⊙ g − x ⊙ r³ ⊙ mean(g ⊙ x),   ∂w = Σ_rows ∂y ⊙ x ⊙ r
 */
import * as tf from '@tensorflow/tfjs';

export function rmsNorm(x: tf.Tensor, weight: tf.Tensor, eps: number): tf.Tensor {
  if (tf.getBackend() === 'cuda') return rmsNormExplicitGrad(x, weight, eps);
  const variance = tf.mean(tf.square(x), -1, true);
  return tf.mul(weight, tf.mul(x, tf.rsqrt(tf.add(variance, eps))));
}

/** The same forward with the gradient above (a test holds it equal to TF.js's). */
export function rmsNormExplicitGrad(x: tf.Tensor, weight: tf.Tensor, eps: number): tf.Tensor {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const xx = args[0] as tf.Tensor;
    const w = args[1] as tf.Tensor;
    const save = args[2] as tf.GradSaveFunc;
    const r = tf.rsqrt(tf.add(tf.mean(tf.square(xx), -1, true), eps));
    save([xx, w, r]);
    const value = tf.mul(w, tf.mul(xx, r));
    const gradFunc = (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [sx, sw, sr] = saved;
      const d = dy as tf.Tensor;
      const g = tf.mul(sw, d);
      const dot = tf.mean(tf.mul(g, sx), -1, true);
      const dx = tf.sub(tf.mul(sr, g), tf.mul(sx, tf.mul(tf.mul(sr, tf.mul(sr, sr)), dot)));
      const width = sw.shape[sw.rank - 1];
      const dw = tf.reshape(tf.sum(tf.reshape(tf.mul(d, tf.mul(sx, sr)), [-1, width]), 0), sw.shape);
      return [dx, dw];
    };
    return { value, gradFunc };
  });
  return f(x, weight);
}
