/**
 * Model hyper-parameters from a Hugging Face `config.json`, for the decoder-only families `sil`
 * runs: LlamaForCausalLM (GQA or MHA, RoPE plain or `llama3`-scaled), Qwen2ForCausalLM (q/k/v
 * biases, tied embeddings) and MistralForCausalLM (explicit `head_dim`, optional sliding window).
 *
 * Both config forms are read:
 * - transformers 4.x (what most real checkpoints carry): top-level `rope_theta`, `rope_scaling`
 *   (`null`, or an object with `rope_type` — older: `type` — and its factors), `torch_dtype`, and
 *   for Llama no `head_dim` (then head_dim = hidden_size / num_attention_heads);
 * - transformers 5.x: `rope_parameters: { rope_theta, rope_type, … }`, `dtype`, `head_dim`.
 *
 * Anything the runtime does not implement is rejected with a SilError that names the option and
 * lists what is supported, rather than silently computing something else.
 */
import * as path from 'node:path';
import { SilError } from '../errors';
import { allParamNames, EMBED, LM_HEAD, paramShape } from './names';
import { SUPPORTED_ARCHITECTURES, SUPPORTED_ROPE_TYPES, type Architecture, type ModelConfig, type RopeConfig, type RopeType } from './hparams';

export { SUPPORTED_ARCHITECTURES, SUPPORTED_ROPE_TYPES, type Architecture, type ModelConfig, type RopeConfig, type RopeType } from './hparams';

type Raw = Record<string, unknown>;

function fail(code: 'INVALID_CONFIG' | 'UNSUPPORTED_OPTION' | 'UNSUPPORTED_ARCHITECTURE', msg: string, file?: string): never {
  throw new SilError(code, msg, { file });
}

/** Upper bounds on sizes: far above any real checkpoint, low enough that a typo cannot exhaust memory. */
export const CONFIG_LIMITS: Record<string, number> = {
  vocab_size: 1 << 22,
  hidden_size: 1 << 16,
  intermediate_size: 1 << 20,
  num_hidden_layers: 1024,
  num_attention_heads: 1024,
  num_key_value_heads: 1024,
  head_dim: 4096,
  max_position_embeddings: 1 << 24,
  sliding_window: 1 << 24,
};

function int(raw: Raw, key: string, file?: string, fallback?: number): number {
  const v = raw[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    fail('INVALID_CONFIG', `config.json lacks the integer "${key}"`, file);
  }
  const max = CONFIG_LIMITS[key] ?? Number.MAX_SAFE_INTEGER;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0 || v > max) {
    fail('INVALID_CONFIG', `config.json "${key}" must be a positive integer${max < Number.MAX_SAFE_INTEGER ? ` up to ${max}` : ''}, found ${JSON.stringify(v)}`, file);
  }
  return v;
}

/** A finite number in (0, max] (`fallback` when absent or null). */
function positive(raw: Raw, key: string, file: string | undefined, fallback: number, max = Number.MAX_VALUE): number {
  const v = raw[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || !(v > 0) || v > max) {
    fail('INVALID_CONFIG', `config.json "${key}" must be a positive number${max < Number.MAX_VALUE ? ` up to ${max}` : ''}, found ${JSON.stringify(v)}`, file);
  }
  return v;
}

function num(raw: Raw, key: string, file: string | undefined, fallback: number): number {
  const v = raw[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) fail('INVALID_CONFIG', `config.json "${key}" must be a number, found ${JSON.stringify(v)}`, file);
  return v;
}

function bool(raw: Raw, key: string, fallback: boolean, file?: string): boolean {
  const v = raw[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') fail('INVALID_CONFIG', `config.json "${key}" must be true or false, found ${JSON.stringify(v)}`, file);
  return v;
}

/** null/absent, or an object (not a string, number or array). */
function objectOrNull(raw: Raw, key: string, file?: string): Raw | null {
  const v = raw[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) fail('INVALID_CONFIG', `config.json "${key}" must be null or an object, found ${JSON.stringify(v)}`, file);
  return v as Raw;
}

/** RoPE settings from `rope_parameters` (5.x) or `rope_theta` + `rope_scaling` (4.x). */
function parseRope(raw: Raw, defaultTheta: number, file?: string): RopeConfig {
  const params = objectOrNull(raw, 'rope_parameters', file);
  const scaling = objectOrNull(raw, 'rope_scaling', file);
  let theta: number;
  let spec: Raw | null;
  if (params) {
    theta = positive(params, 'rope_theta', file, positive(raw, 'rope_theta', file, defaultTheta));
    spec = params;
  } else {
    theta = positive(raw, 'rope_theta', file, defaultTheta);
    spec = scaling;
  }
  const rawType = spec?.rope_type ?? spec?.type ?? 'default';
  if (typeof rawType !== 'string') fail('INVALID_CONFIG', `config.json RoPE "rope_type" must be a string, found ${JSON.stringify(rawType)}`, file);
  const type = rawType;
  if (!(SUPPORTED_ROPE_TYPES as readonly string[]).includes(type)) {
    fail('UNSUPPORTED_OPTION', `RoPE type "${type}" is not supported; supported: ${SUPPORTED_ROPE_TYPES.join(', ')}`, file);
  }
  const prf = spec?.partial_rotary_factor ?? raw.partial_rotary_factor;
  if (prf !== undefined && prf !== null && prf !== 1 && prf !== 1.0) {
    fail('UNSUPPORTED_OPTION', `partial_rotary_factor ${JSON.stringify(prf)} is not supported; supported: 1.0`, file);
  }
  const rope: RopeConfig = { type: type as RopeType, theta };
  if (type === 'linear' || type === 'llama3') {
    rope.factor = num(spec!, 'factor', file, NaN);
    if (!(rope.factor > 0)) fail('INVALID_CONFIG', `RoPE type "${type}" needs a positive "factor"`, file);
  }
  if (type === 'llama3') {
    rope.lowFreqFactor = num(spec!, 'low_freq_factor', file, NaN);
    rope.highFreqFactor = num(spec!, 'high_freq_factor', file, NaN);
    rope.originalMaxPositionEmbeddings = num(spec!, 'original_max_position_embeddings', file, NaN);
    for (const k of ['lowFreqFactor', 'highFreqFactor', 'originalMaxPositionEmbeddings'] as const) {
      if (!(rope[k]! > 0)) fail('INVALID_CONFIG', `RoPE type "llama3" needs a positive ${k}`, file);
    }
  }
  return rope;
}

/**
 * Parses a `config.json` object. `file` only labels error messages.
 * Throws SilError UNSUPPORTED_ARCHITECTURE / UNSUPPORTED_OPTION / INVALID_CONFIG.
 */
export function parseModelConfig(raw: unknown, file?: string): ModelConfig {
  if (!raw || typeof raw !== 'object') fail('INVALID_CONFIG', 'config.json is missing or not an object', file);
  const r = raw as Raw;
  if (r.architectures !== undefined && r.architectures !== null && !(Array.isArray(r.architectures) && r.architectures.every((a) => typeof a === 'string'))) {
    fail('INVALID_CONFIG', `config.json "architectures" must be a list of names, found ${JSON.stringify(r.architectures)}`, file);
  }
  const archs = Array.isArray(r.architectures) ? (r.architectures as unknown[]) : [];
  const arch = archs.length > 0 ? String(archs[0]) : `model_type ${JSON.stringify(r.model_type ?? null)}`;
  if (!(SUPPORTED_ARCHITECTURES as readonly string[]).includes(arch)) {
    fail('UNSUPPORTED_ARCHITECTURE', `architecture ${arch} is not supported; supported: ${SUPPORTED_ARCHITECTURES.join(', ')}`, file);
  }
  const architecture = arch as Architecture;
  const act = r.hidden_act ?? 'silu';
  if (act !== 'silu') fail('UNSUPPORTED_OPTION', `hidden_act "${String(act)}" is not supported; supported: silu`, file);
  if (r.pretraining_tp !== undefined && r.pretraining_tp !== null && r.pretraining_tp !== 1) {
    fail('UNSUPPORTED_OPTION', `pretraining_tp ${JSON.stringify(r.pretraining_tp)} is not supported; supported: 1`, file);
  }
  const hiddenSize = int(r, 'hidden_size', file);
  const numHeads = int(r, 'num_attention_heads', file);
  const numKvHeads = int(r, 'num_key_value_heads', file, numHeads);
  if (numHeads % numKvHeads !== 0) {
    fail('INVALID_CONFIG', `num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`, file);
  }
  let headDim: number;
  if (r.head_dim !== undefined && r.head_dim !== null) headDim = int(r, 'head_dim', file);
  else {
    if (hiddenSize % numHeads !== 0) fail('INVALID_CONFIG', `hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${numHeads} and no head_dim is given`, file);
    headDim = hiddenSize / numHeads;
  }
  if (headDim % 2 !== 0) fail('INVALID_CONFIG', `head_dim ${headDim} must be even for RoPE`, file);
  const isQwen2 = architecture === 'Qwen2ForCausalLM';
  const attentionBias = bool(r, 'attention_bias', false, file);
  let slidingWindow: number | null = null;
  const sw = r.sliding_window;
  const swActive = isQwen2 ? bool(r, 'use_sliding_window', false, file) : true;
  if (sw !== undefined && sw !== null) {
    const w = int(r, 'sliding_window', file);
    if (swActive) slidingWindow = w;
  }
  const dtype = r.dtype ?? r.torch_dtype ?? null;
  if (dtype !== null && typeof dtype !== 'string')
    fail('INVALID_CONFIG', `config.json "${r.dtype !== undefined ? 'dtype' : 'torch_dtype'}" must be a dtype name, found ${JSON.stringify(dtype)}`, file);
  const tie = bool(r, 'tie_word_embeddings', false, file);
  const mlpBias = bool(r, 'mlp_bias', false, file);
  const maxPos = r.max_position_embeddings === undefined || r.max_position_embeddings === null ? null : int(r, 'max_position_embeddings', file);
  return {
    architecture,
    vocabSize: int(r, 'vocab_size', file),
    hiddenSize,
    intermediateSize: int(r, 'intermediate_size', file),
    numLayers: int(r, 'num_hidden_layers', file),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: positive(r, 'rms_norm_eps', file, 1e-6, 1),
    rope: parseRope(r, isQwen2 ? 1e6 : 1e4, file),
    qkvBias: isQwen2 ? true : attentionBias,
    oBias: isQwen2 ? false : attentionBias,
    mlpBias: isQwen2 ? false : mlpBias,
    tieWordEmbeddings: tie,
    slidingWindow,
    maxPositionEmbeddings: maxPos,
    dtype: typeof dtype === 'string' ? dtype : null,
  };
}

/** Rejects a sequence length that the configuration cannot run exactly. */
export function checkSequenceLength(cfg: ModelConfig, seqLen: number): void {
  if (cfg.slidingWindow !== null && seqLen > cfg.slidingWindow) {
    throw new SilError('UNSUPPORTED_OPTION', `sequence length ${seqLen} exceeds sliding_window ${cfg.slidingWindow}; sliding-window attention is not supported, only sequences up to the window`);
  }
}

/**
 * Holds a parsed config against the tensors a checkpoint stores (`shapes`: name → shape): every
 * parameter the config implies is stored with the shape it implies, and no decoder layer is stored
 * beyond `num_hidden_layers`. Throws INVALID_CONFIG naming config.json (`file`), the field and the
 * tensor, so a wrong `num_hidden_layers` or `vocab_size` is blamed on the config, not on a cache.
 */
export function checkConfigShapes(cfg: ModelConfig, shapes: ReadonlyMap<string, readonly number[]>, file?: string): void {
  let maxLayer = -1;
  for (const name of shapes.keys()) {
    const m = /^model\.layers\.(\d+)\./.exec(name);
    if (m) maxLayer = Math.max(maxLayer, Number(m[1]));
  }
  if (maxLayer + 1 > cfg.numLayers) {
    throw new SilError('INVALID_CONFIG', `config.json "num_hidden_layers" is ${cfg.numLayers}, but the checkpoint stores ${maxLayer + 1} decoder layers`, { file, tensor: `model.layers.${maxLayer}` });
  }
  const fieldsOf = (name: string): string => {
    if (name === EMBED || name === LM_HEAD) return '"vocab_size" and "hidden_size"';
    if (/layernorm|norm\.weight$/.test(name)) return '"hidden_size"';
    if (/self_attn/.test(name)) return '"hidden_size", "num_attention_heads", "num_key_value_heads" and "head_dim"';
    return '"hidden_size" and "intermediate_size"';
  };
  for (const name of allParamNames(cfg)) {
    const want = paramShape(cfg, name);
    const got = shapes.get(name);
    if (!got) {
      const why = /^model\.layers\.(\d+)\./.exec(name) ? `"num_hidden_layers" is ${cfg.numLayers}` : name === LM_HEAD ? '"tie_word_embeddings" is false' : 'the architecture needs it';
      throw new SilError('INVALID_CONFIG', `config.json implies a tensor the checkpoint does not store (${why})`, { file, tensor: name });
    }
    if (got.length !== want.length || got.some((d, i) => d !== want[i])) {
      throw new SilError('INVALID_CONFIG', `config.json ${fieldsOf(name)} imply shape [${want.join(', ')}], the checkpoint stores [${got.join(', ')}]`, { file, tensor: name });
    }
  }
}

/** What `checkpointConfig` reads of an opened checkpoint (io/checkpoint.ts's `Checkpoint`). */
export interface ConfigSource {
  config: unknown;
  dir: string;
  names(): string[];
  info(name: string): { shape: number[] };
}

/** The config.json of an opened checkpoint, parsed and held against the tensors it stores. */
export function checkpointConfig(ck: ConfigSource): ModelConfig {
  const file = path.join(ck.dir, 'config.json');
  const cfg = parseModelConfig(ck.config, file);
  checkConfigShapes(cfg, new Map(ck.names().map((n) => [n, ck.info(n).shape])), file);
  return cfg;
}
