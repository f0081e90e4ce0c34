/**
 * Causal-LM cross-entropy over logits z [N, V] with targets t (−1 = no label), as transformers' mean
 * token cross-entropy when the denominator is the number of labelled positions (data-parallel
 * workers pass the whole batch's count so that their gradients simply add up):
 *
 *   lse_n = m_n + log Σ_v exp(z_nv − m_n),   m_n = max_v z_nv
 *   loss  = Σ_n valid_n (lse_n − z_n,t_n) / denominator
 *   ∂z_nv = (softmax(z_n)_v − [v = t_n]) · valid_n / denominator
 *
 * under a custom gradient: exp(z − m) is computed once and kept for the backward pass (TF.js's own
 * log-softmax gradient recomputes it), the target logits are gathered (a constant here: the wasm
 * backend has no gradient for gather, and none is needed), and the one-hot rows are made only for
 * the gradient. (On wasm, `tf.oneHot(…, 'float32')` writes integer bits into a float tensor, so the
 * rows are made as int32 and cast.) Over a 32k–128k vocabulary these [N, V] passes
 * are the largest elementwise work of a step. `crossEntropyReference` is the textbook
 * −Σ logsoftmax(z) · onehot(t) / denominator; a test holds the two equal.
 */
import * as tf from '@tensorflow/tfjs';
import type { FusedOps } from '../cuda';

function validScale(targets: Int32Array, denominator: number): Float32Array {
  const v = new Float32Array(targets.length);
  const d = Math.max(denominator, 1);
  for (let n = 0; n < targets.length; n++) v[n] = targets[n] >= 0 ? 1 / d : 0;
  return v;
}

/** logits [N, V], targets [N] (−1 = none) → scalar */
export function crossEntropy(logits: tf.Tensor, targets: Int32Array, denominator: number): tf.Scalar {
  const v = logits.shape[logits.rank - 1];
  const z2 = tf.reshape(logits, [-1, v]) as tf.Tensor2D;
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const z = args[0] as tf.Tensor2D;
    const save = args[1] as tf.GradSaveFunc;
    const n = z.shape[0];
    const scale = tf.tensor1d(validScale(targets, denominator));
    const at = new Int32Array(n);
    for (let i = 0; i < n; i++) at[i] = i * v + Math.max(targets[i], 0);
    const m = tf.max(z, -1, true);
    const e = tf.exp(tf.sub(z, m));
    const s = tf.sum(e, -1, true);
    const lse = tf.reshape(tf.add(m, tf.log(s)), [-1]);
    const zt = tf.gather(tf.reshape(z, [-1]), tf.tensor1d(at, 'int32'));
    const value = tf.sum(tf.mul(tf.sub(lse, zt), scale)) as tf.Scalar;
    save([e, s, scale]);
    const gradFunc = (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [se, ss, sc] = saved;
      const onehot = tf.cast(tf.oneHot(tf.tensor1d(targets, 'int32'), v), 'float32');
      const w = tf.mul(tf.reshape(sc, [-1, 1]), dy as tf.Tensor);
      return tf.mul(tf.sub(tf.div(se, ss), onehot), w);
    };
    return { value, gradFunc };
  });
  return f(z2) as tf.Scalar;
}

/**
 * The same on a backend's fused ops: the log-sum-exp and the target logit in one pass over z (the
 * whole vocabulary as one chunk of the running form), ∂z in one more.
 */
export function crossEntropyFused(f: FusedOps, logits: tf.Tensor, targets: Int32Array, denominator: number): tf.Scalar {
  const z2 = tf.reshape(logits, [-1, logits.shape[logits.rank - 1]]) as tf.Tensor2D;
  return tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const z = args[0] as tf.Tensor2D;
    const save = args[1] as tf.GradSaveFunc;
    const n = z.shape[0];
    const scale = tf.tensor1d(validScale(targets, denominator));
    const m0 = tf.fill([n], -Infinity) as tf.Tensor1D;
    const zero = tf.zeros([n]) as tf.Tensor1D;
    const [m, s, zt] = f.lseChunk(z, m0, zero, zero, targets, 0);
    const lse = tf.add(m, tf.log(s)) as tf.Tensor1D;
    const value = tf.sum(tf.mul(tf.sub(lse, zt), scale)) as tf.Scalar;
    save([z, lse, scale]);
    return {
      value,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sz, sl, sc] = saved as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D];
        return tf.mul(f.ceChunkGrad(sz, sl, targets, 0, sc), dy as tf.Tensor);
      },
    };
  })(z2) as tf.Scalar;
}

/** The textbook form, with TF.js's own gradients: the reference for `crossEntropy`. */
export function crossEntropyReference(logits: tf.Tensor, targets: Int32Array, denominator: number): tf.Scalar {
  const v = logits.shape[logits.rank - 1];
  const onehot = tf.cast(tf.oneHot(tf.tensor1d(targets, 'int32'), v), 'float32');
  return tf.div(tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), onehot))), Math.max(denominator, 1)) as tf.Scalar;
}
