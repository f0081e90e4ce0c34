/**
 * The forward steps of a streamed pass: h₀ = E[ids] with the embedding's rows read from the
 * checkpoint (the embedding is never loaded whole), then h_{l+1} = layer_l(h_l) one decoder layer at
 * a time, each group of sequences in turn, keeping h_l at the layer boundary for the backward pass.
 */
import * as tf from '@tensorflow/tfjs';
import { decoderLayer } from '../model/layer';
import { EMBED, layerParamNames } from '../model/names';
import type { StreamPass } from './pass';
import type { RangedSource } from './weights';

/** h₀ rows E[ids[n]], read row by row from the source. */
export function embedRows(src: RangedSource, ids: Int32Array, hidden: number): Float32Array {
  const h0 = new Float32Array(ids.length * hidden);
  const seen = new Map<number, number>();
  for (let n = 0; n < ids.length; n++) {
    const first = seen.get(ids[n]);
    if (first !== undefined) h0.copyWithin(n * hidden, first * hidden, (first + 1) * hidden);
    else {
      h0.set(src.readF32(EMBED, ids[n] * hidden, (ids[n] + 1) * hidden), n * hidden);
      seen.set(ids[n], n);
    }
  }
  return h0;
}

/** h₀ of every group, [n, hidden] each. */
export function embedGroups(pass: StreamPass): tf.Tensor2D[] {
  const H = pass.cfg.hiddenSize;
  return pass.groups.map((g) => pass.track(tf.tensor2d(embedRows(pass.src, g.pb.ids, H), [g.n, H])));
}

/** Uploads layer i's weights. */
export function loadLayer(pass: StreamPass, i: number): void {
  pass.w.loadNames(layerParamNames(pass.cfg, i));
}

/**
 * Layer i over every group: hs[k] ← layer_i(hs[k]), the input kept as boundary (i, k). Layer i's
 * weights must be loaded (`loadLayer`); unless cached for the backward pass they are released.
 */
export async function forwardLayer(pass: StreamPass, i: number, hs: tf.Tensor2D[]): Promise<void> {
  const G = pass.groups.length;
  for (let k = 0; k < G; k++) {
    const hi = hs[k];
    const next = pass.track(tf.tidy(() => decoderLayer(hi, i, pass.w, pass.cfg, pass.groups[k].ctx)) as tf.Tensor2D);
    await pass.bnd.put(i * G + k, hi);
    hs[k] = next;
  }
  if (!pass.cached(i)) pass.w.release(layerParamNames(pass.cfg, i));
}
