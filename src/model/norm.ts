/**
 * RMSNorm (Zhang & Sennrich 2019), as in transformers' LlamaRMSNorm:
 *   y = w ⊙ x / sqrt(mean(x², last axis) + ε)
 */
import * as tf from '@tensorflow/tfjs';

export function rmsNorm(x: tf.Tensor, weight: tf.Tensor, eps: number): tf.Tensor {
  const variance = tf.mean(tf.square(x), -1, true);
  return tf.mul(weight, tf.mul(x, tf.rsqrt(tf.add(variance, eps))));
}
