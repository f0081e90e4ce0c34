/**
 * Parameter names, exactly as Hugging Face stores them for the Llama-like families (Llama, Qwen2,
 * Mistral share them). The model addresses every weight by these names, so gradients come out keyed
 * by the checkpoint's own tensor names.
 */
import type { ModelConfig } from './hparams';

export const EMBED = 'model.embed_tokens.weight';
export const FINAL_NORM = 'model.norm.weight';
export const LM_HEAD = 'lm_head.weight';

/** The linear projections of one decoder layer, by short name. */
export const LAYER_LINEARS = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const;
export type LayerLinear = (typeof LAYER_LINEARS)[number];

const MODULE: Record<LayerLinear, string> = {
  q: 'self_attn.q_proj',
  k: 'self_attn.k_proj',
  v: 'self_attn.v_proj',
  o: 'self_attn.o_proj',
  gate: 'mlp.gate_proj',
  up: 'mlp.up_proj',
  down: 'mlp.down_proj',
};

export function layerPrefix(i: number): string {
  return `model.layers.${i}.`;
}

export function linearWeight(i: number, l: LayerLinear): string {
  return `${layerPrefix(i)}${MODULE[l]}.weight`;
}

export function linearBias(i: number, l: LayerLinear): string {
  return `${layerPrefix(i)}${MODULE[l]}.bias`;
}

export function inputNorm(i: number): string {
  return `${layerPrefix(i)}input_layernorm.weight`;
}

export function postAttentionNorm(i: number): string {
  return `${layerPrefix(i)}post_attention_layernorm.weight`;
}

export function hasBias(cfg: ModelConfig, l: LayerLinear): boolean {
  if (l === 'q' || l === 'k' || l === 'v') return cfg.qkvBias;
  if (l === 'o') return cfg.oBias;
  return cfg.mlpBias;
}

/** Every parameter of decoder layer i, in a fixed order. */
export function layerParamNames(cfg: ModelConfig, i: number): string[] {
  const out = [inputNorm(i), postAttentionNorm(i)];
  for (const l of LAYER_LINEARS) {
    out.push(linearWeight(i, l));
    if (hasBias(cfg, l)) out.push(linearBias(i, l));
  }
  return out;
}

/** The head's own stored parameters: final norm and, when untied, lm_head. */
export function headParamNames(cfg: ModelConfig): string[] {
  return cfg.tieWordEmbeddings ? [FINAL_NORM] : [FINAL_NORM, LM_HEAD];
}

/** Every stored parameter of the model (the tied head counted once, as the embedding). */
export function allParamNames(cfg: ModelConfig): string[] {
  const out = [EMBED];
  for (let i = 0; i < cfg.numLayers; i++) out.push(...layerParamNames(cfg, i));
  out.push(...headParamNames(cfg));
  return out;
}

/** Expected shape of each parameter. */
export function paramShape(cfg: ModelConfig, name: string): number[] {
  const { hiddenSize: h, intermediateSize: f, numHeads: nh, numKvHeads: nkv, headDim: d, vocabSize: v } = cfg;
  if (name === EMBED || name === LM_HEAD) return [v, h];
  if (name === FINAL_NORM || name.endsWith('layernorm.weight')) return [h];
  const m = /self_attn\.(q|k|v|o)_proj\.(weight|bias)$|mlp\.(gate|up|down)_proj\.(weight|bias)$/.exec(name);
  if (!m) throw new Error(`not a model parameter: ${name}`);
  const l = (m[1] ?? m[3]) as LayerLinear;
  const isBias = (m[2] ?? m[4]) === 'bias';
  const outIn: Record<LayerLinear, [number, number]> = {
    q: [nh * d, h],
    k: [nkv * d, h],
    v: [nkv * d, h],
    o: [h, nh * d],
    gate: [f, h],
    up: [f, h],
    down: [h, f],
  };
  const [o, i] = outIn[l];
  return isBias ? [o] : [o, i];
}
