/**
 * SwiGLU feed-forward (Shazeer 2020), as in transformers' LlamaMLP:
 *   mlp(x) = down( silu(gate(x)) ⊙ up(x) ),   silu(z) = z · σ(z)
 */
import * as tf from '@tensorflow/tfjs';
import { fusedOps } from './fused';
import { linear, type LinearParams } from './linear';

export interface MlpParams {
  gate: LinearParams;
  up: LinearParams;
  down: LinearParams;
}

/** x [N, hidden] → [N, hidden] */
export function mlp(x: tf.Tensor, p: MlpParams): tf.Tensor {
  const g = linear(x, p.gate);
  const fused = fusedOps();
  if (fused) return linear(fused.swiglu(g, linear(x, p.up)), p.down);
  const act = tf.mul(g, tf.sigmoid(g));
  return linear(tf.mul(act, linear(x, p.up)), p.down);
}
