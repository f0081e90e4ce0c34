/**
 * Linear layer y = x Wᵀ + b with W stored as PyTorch does ([out, in]).
 *
 * Fast form: TF.js wasm has a fast matmul only for plain, non-transposed 2-D products, and its own
 * matMul gradient uses the transposed forms (~10× slower there). So the forward multiplies by a
 * kept, precomputed Wᵀ ([in, out]) and a custom gradient uses only plain products:
 *   ∂x = ∂y · W            ([N, out] · [out, in])
 *   ∂W = (∂y)ᵀ · x         (an explicit transpose copy, then [out, N] · [N, in])
 * `linearReference` is the textbook form; a test holds the two equal.
 */
import * as tf from '@tensorflow/tfjs';

export interface LinearParams {
  /** [out, in] */
  w: tf.Tensor;
  /** the kept transpose of w, [in, out] */
  wt: tf.Tensor;
  /** [out] or undefined */
  b?: tf.Tensor;
}

/** y = x Wᵀ (+ b) for x [N, in], with the plain-matmul custom gradient described above. */
export function linear(x: tf.Tensor, p: LinearParams): tf.Tensor {
  const wt = p.wt;
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const xx = args[0] as tf.Tensor2D;
    const w = args[1] as tf.Tensor2D;
    const save = args[2] as tf.GradSaveFunc;
    // tensors the gradient needs must go through `save` (the tape may free the inputs otherwise)
    save([xx, w]);
    const value = tf.matMul(xx, wt as tf.Tensor2D);
    const gradFunc = (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const g = dy as tf.Tensor2D;
      const [sx, sw] = saved as tf.Tensor2D[];
      return [tf.matMul(g, sw), tf.matMul(tf.transpose(g), sx)];
    };
    return { value, gradFunc };
  });
  const y = f(x, p.w);
  return p.b ? tf.add(y, p.b) : y;
}

/** y = x Wᵀ (+ b) with TF.js's own matMul and gradient: the reference for `linear`. */
export function linearReference(x: tf.Tensor, p: LinearParams): tf.Tensor {
  const y = tf.matMul(x as tf.Tensor2D, p.w as tf.Tensor2D, false, true);
  return p.b ? tf.add(y, p.b) : y;
}
