/** Parameter counts from the config, which every memory plan starts from. */
import { type Precision, residentBytesPerElement, type WeightUse } from '../../cuda/precision';
import type { ModelConfig } from '../config';
import { allParamNames, EMBED, layerParamNames, LM_HEAD, paramShape } from '../names';

/** bytes per float32 element */
export const F32 = 4;

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Parameters of decoder layer i (all layers have the same shapes). */
export function layerParamCount(cfg: ModelConfig, i = 0): number {
  return layerParamNames(cfg, i).reduce((a, n) => a + numel(paramShape(cfg, n)), 0);
}

/** Parameters of the whole model, as stored (a tied head counted once). */
export function modelParamCount(cfg: ModelConfig): number {
  return allParamNames(cfg).reduce((a, n) => a + numel(paramShape(cfg, n)), 0);
}

/**
 * How the backend holds weights on its device, when not as float32: the cuda backend's matrix-product
 * `precision` and the checkpoint's stored dtype (`residentBytesPerElement`, cuda/precision.ts).
 */
export interface WeightStorage {
  precision: Precision;
  dtype: string | undefined;
}

/**
 * How parameter `name` is read on the device by the streamed pass: matrix weights and the head's rows
 * (lm_head, or the tied embedding) by products; norms and biases by float32 kernels. The embedding's
 * lookup reads the checkpoint on the host, so on the device the embedding is only ever the head.
 */
export function weightUse(_cfg: ModelConfig, name: string): WeightUse {
  if (name === EMBED || name === LM_HEAD || /_proj\.weight$/.test(name)) return { product: true, f32: false };
  return { product: false, f32: true };
}

/** Device bytes per element of parameter `name`: float32 (F32) unless `storage` says how the cuda backend holds it. */
export function weightBytesPerElement(cfg: ModelConfig, name: string, storage?: WeightStorage): number {
  return storage ? residentBytesPerElement(storage.precision, storage.dtype, weightUse(cfg, name)) : F32;
}

const bytesOf = (cfg: ModelConfig, names: string[], storage?: WeightStorage) => names.reduce((a, n) => a + numel(paramShape(cfg, n)) * weightBytesPerElement(cfg, n, storage), 0);

/** Device bytes of decoder layer i's weights (float32 without `storage`). */
export function layerWeightBytes(cfg: ModelConfig, storage?: WeightStorage, i = 0): number {
  return bytesOf(cfg, layerParamNames(cfg, i), storage);
}

/** Device bytes of the whole model's weights, as stored (a tied head counted once; float32 without `storage`). */
export function modelWeightBytes(cfg: ModelConfig, storage?: WeightStorage): number {
  return bytesOf(cfg, allParamNames(cfg), storage);
}

/** Device bytes of the untied embedding kept for the streamed pass's lookup on the device (read as stored: BF16 halves, else float32). */
export function embeddingLookupBytes(cfg: ModelConfig, storage: WeightStorage): number {
  return cfg.vocabSize * cfg.hiddenSize * residentBytesPerElement(storage.precision, storage.dtype, { product: false, f32: false });
}

/** Device bytes of the head's vocabulary rows (lm_head, or the tied embedding) as the streamed pass keeps them. */
export function headWeightBytes(cfg: ModelConfig, storage?: WeightStorage): number {
  const name = cfg.tieWordEmbeddings ? EMBED : LM_HEAD;
  return cfg.vocabSize * cfg.hiddenSize * weightBytesPerElement(cfg, name, storage);
}
