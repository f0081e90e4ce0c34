/**
 * The forward steps of a streamed pass: h₀ = E[ids] with the embedding's rows read from the
 * checkpoint (the embedding is never loaded whole), then h_{l+1} = layer_l(h_l) one decoder layer at
 * a time, each group of sequences in turn, keeping h_l at the layer boundary for the backward pass.
 */
import * as tf from '@tensorflow/tfjs';
import { layerForward } from '../model/layer';
import { EMBED, layerParamNames } from '../model/names';
import { modelOps } from '../model/ops';
import type { StreamPass } from './pass';
import { decodeBytes, decodesOnBackend, type RangedSource } from './weights';

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

/**
 * h₀ rows E[ids[n]] on the backend: on the GPU backends the stored BF16/F16 rows are uploaded as
 * they are and widened there (a third of the host time of decoding them: the embedding's lookup
 * is host work with the GPU idle); elsewhere `embedRows`.
 */
export function embedTensor(src: RangedSource, ids: Int32Array, hidden: number): tf.Tensor2D {
  if (!decodesOnBackend(src, EMBED)) return tf.tensor2d(embedRows(src, ids, hidden), [ids.length, hidden]);
  const rowBytes = hidden * 2;
  const raw = new Uint8Array(ids.length * rowBytes);
  for (let n = 0; n < ids.length; n++) {
    const row = raw.subarray(n * rowBytes, (n + 1) * rowBytes);
    const got = src.readBytes!(EMBED, ids[n] * hidden, (ids[n] + 1) * hidden, row);
    if (got !== row) row.set(got);
  }
  return decodeBytes(src, EMBED, raw, [ids.length, hidden]) as tf.Tensor2D;
}

/**
 * h₀ of every group, [n, hidden] each: looked up on the backend in the embedding kept there when
 * the plan keeps it (`cachedEmbedding`, passes sharing their weights) and the backend can, else
 * `embedTensor`.
 */
export function embedGroups(pass: StreamPass): tf.Tensor2D[] {
  const lookup = pass.plan.cachedEmbedding ? modelOps().embedRows : undefined;
  if (lookup) pass.w.loadNames([EMBED]);
  return pass.groups.map((g) => pass.track(lookup ? lookup(pass.w.get(EMBED), g.pb.ids) : embedTensor(pass.src, g.pb.ids, pass.cfg.hiddenSize)));
}

/** Uploads layer i's weights. */
export function loadLayer(pass: StreamPass, i: number): void {
  pass.w.loadNames(layerParamNames(pass.cfg, i));
}

/**
 * Layer i over every group: hs[k] ← layer_i(hs[k]), the input kept as boundary (i, k), and for the
 * plan's kept layers what the VJP reads (where the backend writes the layer out). Layer i's weights
 * must be loaded (`loadLayer`); unless cached for the backward pass they are released.
 */
export async function forwardLayer(pass: StreamPass, i: number, hs: tf.Tensor2D[]): Promise<void> {
  const G = pass.groups.length;
  for (let k = 0; k < G; k++) {
    const hi = hs[k];
    const { y, kept } = layerForward(hi, i, pass.w, pass.cfg, pass.groups[k].ctx, pass.keeps(i));
    const next = pass.track(y as tf.Tensor2D);
    pass.kept[i * G + k] = kept;
    await pass.bnd.put(i * G + k, hi);
    hs[k] = next;
  }
  if (!pass.cached(i)) pass.w.release(layerParamNames(pass.cfg, i));
}
