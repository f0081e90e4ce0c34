/**
 * One pre-norm decoder layer (Llama/Qwen2/Mistral):
 *   h ← h + attention(rmsnorm(h; w_in))
 *   h ← h + mlp(rmsnorm(h; w_post))
 * and its vector–Jacobian product, the unit of layer-wise backprop: given the layer input h and the
 * upstream gradient ∂L/∂h_out, it returns ∂L/∂h_in and every parameter's gradient of this layer.
 *
 * `Params` maps checkpoint tensor names to tensors, so the same code runs on weights loaded once
 * (whole model) or per layer (streamed).
 */
import * as tf from '@tensorflow/tfjs';
import { attention, type AttentionContext } from './attention';
import type { ModelConfig } from './config';
import { type LinearParams } from './linear';
import { mlp } from './mlp';
import { hasBias, inputNorm, type LayerLinear, layerParamNames, linearBias, linearWeight, postAttentionNorm } from './names';
import { rmsNorm } from './norm';

/** Tensors by name; `getT(name)` gives the transpose of a 2-D weight (the linear layers no longer need it). */
export interface Params {
  get(name: string): tf.Tensor;
  getT(name: string): tf.Tensor;
}

export function linearParams(p: Params, cfg: ModelConfig, i: number, l: LayerLinear): LinearParams {
  return { w: p.get(linearWeight(i, l)), b: hasBias(cfg, l) ? p.get(linearBias(i, l)) : undefined };
}

/** h [N, hidden] → [N, hidden] */
export function decoderLayer(h: tf.Tensor, i: number, p: Params, cfg: ModelConfig, ctx: AttentionContext): tf.Tensor {
  const lp = (l: LayerLinear) => linearParams(p, cfg, i, l);
  const a = attention(rmsNorm(h, p.get(inputNorm(i)), cfg.rmsNormEps), { q: lp('q'), k: lp('k'), v: lp('v'), o: lp('o') }, cfg, ctx);
  const h1 = tf.add(h, a);
  const m = mlp(rmsNorm(h1, p.get(postAttentionNorm(i)), cfg.rmsNormEps), { gate: lp('gate'), up: lp('up'), down: lp('down') });
  return tf.add(h1, m);
}

/** Params whose `get` returns substitutes for some names (the tensors being differentiated). */
export function overlay(base: Params, names: string[], xs: tf.Tensor[]): Params {
  const m = new Map<string, tf.Tensor>();
  names.forEach((n, k) => m.set(n, xs[k]));
  return { get: (n) => m.get(n) ?? base.get(n), getT: (n) => base.getT(n) };
}

/**
 * VJP of decoder layer i at input h with upstream gradient dy: recomputes the layer's forward and
 * returns ∂L/∂h and ∂L/∂θ for every parameter of the layer (names from layerParamNames). The caller
 * owns (and must dispose) the returned tensors.
 */
export function decoderLayerVJP(h: tf.Tensor, dy: tf.Tensor, i: number, p: Params, cfg: ModelConfig, ctx: AttentionContext): { dh: tf.Tensor; grads: Map<string, tf.Tensor> } {
  const names = layerParamNames(cfg, i);
  const xs = [h, ...names.map((n) => p.get(n))];
  const g = tf.grads((...args: tf.Tensor[]) => decoderLayer(args[0], i, overlay(p, names, args.slice(1)), cfg, ctx));
  const out = g(xs, dy);
  return { dh: out[0], grads: new Map(names.map((n, k) => [n, out[k + 1]])) };
}
