/** Parameter counts from the config, which every memory plan starts from. */
import type { ModelConfig } from '../config';
import { allParamNames, layerParamNames, paramShape } from '../names';

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
