/**
 * The seam between the model's math and backends that have fused kernels for parts of it. Model code
 * calls these ops through `fusedOps()`: when the active TF.js backend has an implementation (the
 * cuda backend, src/cuda/fused.ts) each op runs as one kernel forward and one backward, with its
 * gradient on the tape; otherwise (`undefined`) the model runs its TF.js composite, which stays the
 * reference on every other backend. Each op computes what the composite next to its call site
 * computes (tests hold the two equal).
 *
 * SIL_FUSED=0 turns the fused ops off (for measurements and comparisons).
 */
import * as tf from '@tensorflow/tfjs';
import { cudaFusedOps, type FusedOps } from '../cuda';

export type { FusedOps } from '../cuda';

/** The active backend's fused ops, or undefined (use the TF.js composite). */
export function fusedOps(): FusedOps | undefined {
  if (process.env.SIL_FUSED === '0') return undefined;
  return tf.getBackend() === 'cuda' ? cudaFusedOps : undefined;
}
