/**
 * The backward steps of a streamed pass, for l = L−1 … 0: with layer l's weights loaded again,
 * recompute its forward from the boundary h_l (unless the forward kept its state) and take the VJP
 * with the upstream ∂h_{l+1} (`decoderLayerVJP`) → ∂h_l and ∂θ_l per group (added in place into the
 * pass's `deviceSums` where the backend can), the groups' ∂θ_l summed (on the host for host
 * boundaries, where the backend holds one group's gradients at a time; on the backend otherwise).
 * `handOff` then gives the layer's gradients to the sink (read back) or the device sink (as
 * tensors); the caller may let it run while the backend computes the next layer.
 */
import * as tf from '@tensorflow/tfjs';
import { decoderLayerVJP } from '../model/layer';
import { layerParamNames } from '../model/names';
import { addInto, drain, sinkAll, type StreamPass } from './pass';

/** One layer's gradients summed over the groups: on the backend, or on the host (`sumOnHost`). */
export interface LayerGrads {
  onDevice: Map<string, tf.Tensor>;
  onHost: Map<string, Float32Array>;
}

/**
 * Layer i's VJP over every group: dys[k] ← ∂h_i of group k (the upstream ∂h_{i+1} freed), and the
 * layer's parameter gradients. Layer i's weights must be loaded; unless kept for later passes they
 * are released.
 */
export async function backwardLayer(pass: StreamPass, i: number, dys: tf.Tensor[]): Promise<LayerGrads> {
  const G = pass.groups.length;
  const grads: LayerGrads = { onDevice: new Map(), onHost: new Map() };
  for (let k = 0; k < G; k++) {
    const hi = pass.bnd.take(i * G + k);
    const kept = pass.takeKept(i * G + k);
    let out;
    try {
      out = decoderLayerVJP(hi, dys[k], i, pass.w, pass.cfg, pass.groups[k].ctx, { kept, into: pass.deviceSums });
    } finally {
      kept?.dispose();
    }
    pass.track(out.dh);
    tf.dispose([hi, dys[k]]);
    dys[k] = out.dh;
    if (pass.sumOnHost) {
      await drain(out.grads, (n, _start, data) => {
        const acc = grads.onHost.get(n);
        if (!acc) grads.onHost.set(n, data);
        else for (let j = 0; j < data.length; j++) acc[j] += data[j];
      });
    } else for (const [n, g] of out.grads) grads.onDevice.set(n, addInto(grads.onDevice.get(n) ?? null, g));
  }
  if (!pass.keepAfter(i)) pass.w.release(layerParamNames(pass.cfg, i));
  return grads;
}

/** Hands a layer's gradients to the pass's sink (host sums whole, in order; backend tensors read back or to the device sink). */
export function handOff(pass: StreamPass, grads: LayerGrads): Promise<void> {
  return grads.onHost.size > 0 ? sinkAll(grads.onHost, pass.sink) : drain(grads.onDevice, pass.sink, pass.device);
}
