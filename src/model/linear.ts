/**
 * Linear layer y = x Wᵀ + b with W stored as PyTorch does ([out, in]).
 *
 * Fast form: TF.js wasm has a fast matmul only for plain, non-transposed 2-D products a·b (XNNPACK's
 * fully-connected operator, which packs b into its own layout and caches that packed copy for as
 * long as b lives), and its own matMul gradient uses the transposed forms (~10× slower there). So
 * every product here is plain 2-D, arranged so that W itself is the packed operand only once:
 *   y  = (W · xᵀ)ᵀ          ([out, in] · [in, N]: x is packed per call, W is the row operand)
 *   ∂x = ∂y · W             ([N, out] · [out, in]: W's packed copy, made once, kept with W)
 *   ∂W = (∂y)ᵀ · x          ([out, N] · [N, in])
 * The 2-D transposes are O(N·width) copies, small next to the products. Per weight the backend then
 * holds W and one packed copy (no kept Wᵀ, no packed Wᵀ), which leaves room in the 4 GB wasm heap
 * for several sequences per pass. `linearReference` is the textbook form; a test holds the two equal.
 *
 * Backends whose matmul kernels take transposed operands at full speed (webgpu, tensorflow, cuda) run the
 * textbook form instead: no transposes of activations, one kernel per product (`plainMatmulsOnly`).
 */
import * as tf from '@tensorflow/tfjs';
import { blasMatmul } from '../blas';

export interface LinearParams {
  /** [out, in] */
  w: tf.Tensor;
  /** a transpose of w, [in, out]: no longer needed by `linear` (ignored; kept for callers that pass it) */
  wt?: tf.Tensor;
  /** [out] or undefined */
  b?: tf.Tensor;
}

/**
 * Whether the current backend multiplies fast only plain 2-D, non-transposed matrices (wasm on its
 * own kernels, and the pure-JS cpu backend, where the plain forms cost the same and keep one code
 * path with wasm). wasm with its products through the system BLAS (src/blas/) takes transposed and
 * batched operands at full speed, like webgpu and tensorflow.
 */
export function plainMatmulsOnly(): boolean {
  const b = tf.getBackend();
  if (b === 'wasm') return blasMatmul() === null;
  return b !== 'webgpu' && b !== 'tensorflow' && b !== 'cuda';
}

/** y = x Wᵀ (+ b) for x [N, in]: the plain-matmul form described above where the backend needs it. */
export function linear(x: tf.Tensor, p: LinearParams): tf.Tensor {
  if (!plainMatmulsOnly()) return linearReference(x, p);
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const xx = args[0] as tf.Tensor2D;
    const w = args[1] as tf.Tensor2D;
    const save = args[2] as tf.GradSaveFunc;
    // The activation goes through `save` (the tape may free intermediates otherwise). The weight
    // does not: `save` clones, which on wasm copies the whole matrix into the heap (0.87 GB per
    // Llama-3.1-8B layer); W outlives the gradient computation (a parameter the caller holds, or an
    // input of the enclosing tf.grads, kept until its gradients are computed).
    save([xx]);
    const value = tf.transpose(tf.matMul(w, tf.transpose(xx)));
    const gradFunc = (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const g = dy as tf.Tensor2D;
      const [sx] = saved as tf.Tensor2D[];
      return [tf.matMul(g, w), tf.matMul(tf.transpose(g), sx)];
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
