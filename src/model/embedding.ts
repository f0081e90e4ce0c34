/**
 * Token embedding h = E[ids] and its gradient, computed directly:
 *   ∂E[v] = Σ_{n : ids[n] = v} ∂h[n]
 * TF.js's gather gradient needs the UnsortedSegmentSum kernel, which the wasm backend lacks; this
 * scatter-add over typed arrays works on every backend and suits per-layer (streamed) backprop,
 * where the embedding is the last VJP.
 */
import * as tf from '@tensorflow/tfjs';

/** E [V, H], ids [N] → [N, H] */
export function embed(e: tf.Tensor, ids: Int32Array): tf.Tensor {
  return tf.tidy(() => tf.gather(e, tf.tensor1d(ids, 'int32')));
}

/** Adds the embedding gradient of dh [N, H] into out [V, H] (a fresh one when absent). */
export function embeddingGrad(dh: Float32Array, ids: Int32Array, vocabSize: number, hidden: number, out?: Float32Array): Float32Array {
  const g = out ?? new Float32Array(vocabSize * hidden);
  for (let n = 0; n < ids.length; n++) {
    const src = n * hidden;
    const dst = ids[n] * hidden;
    for (let j = 0; j < hidden; j++) g[dst + j] += dh[src + j];
  }
  return g;
}
