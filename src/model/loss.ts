/**
 * Causal-LM cross-entropy without gather (whose gradient the wasm backend lacks):
 *   loss = −Σ_n Σ_v logsoftmax(z_n)_v · onehot(target_n)_v / denominator
 * A target of −1 one-hot encodes to a zero row, so positions without a label drop out. With
 * denominator = number of labelled positions this is transformers' mean token cross-entropy;
 * data-parallel workers pass the whole batch's count so that their gradients simply add up.
 */
import * as tf from '@tensorflow/tfjs';

/** logits [N, V], targets [N] (−1 = none) → scalar */
export function crossEntropy(logits: tf.Tensor, targets: Int32Array, denominator: number): tf.Scalar {
  const v = logits.shape[logits.rank - 1];
  const onehot = tf.cast(tf.oneHot(tf.tensor1d(targets, 'int32'), v), 'float32');
  return tf.div(tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), onehot))), Math.max(denominator, 1)) as tf.Scalar;
}
