/**
 * The weights one block or head reads, by checkpoint tensor name (the whole model's, or one
 * streamed layer's): the type layer.ts runs on and ops.ts hands to a backend's kernels.
 */
import type * as tf from '@tensorflow/tfjs';

/** Tensors by name; `getT(name)` gives the transpose of a 2-D weight (the linear layers no longer need it). */
export interface Params {
  get(name: string): tf.Tensor;
  getT(name: string): tf.Tensor;
}
