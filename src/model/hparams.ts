/**
 * The model's hyper-parameters as the runtime uses them, and the architectures and RoPE types it
 * implements: plain types and data. config.ts reads them from a `config.json`; names.ts and the
 * runtime take them as given.
 */
export const SUPPORTED_ARCHITECTURES = ['LlamaForCausalLM', 'Qwen2ForCausalLM', 'MistralForCausalLM'] as const;
export type Architecture = (typeof SUPPORTED_ARCHITECTURES)[number];
export const SUPPORTED_ROPE_TYPES = ['default', 'linear', 'llama3'] as const;
export type RopeType = (typeof SUPPORTED_ROPE_TYPES)[number];

export interface RopeConfig {
  type: RopeType;
  theta: number;
  /** `linear` and `llama3`: the context extension factor */
  factor?: number;
  /** `llama3` only */
  lowFreqFactor?: number;
  highFreqFactor?: number;
  originalMaxPositionEmbeddings?: number;
}

export interface ModelConfig {
  architecture: Architecture;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  rope: RopeConfig;
  /** q/k/v/o projections carry biases (Qwen2 always has q/k/v biases and no o bias). */
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
  tieWordEmbeddings: boolean;
  /** null when attention is full; sequences longer than this are rejected */
  slidingWindow: number | null;
  maxPositionEmbeddings: number | null;
  /** stored dtype named by the config (`dtype` or `torch_dtype`), informational */
  dtype: string | null;
}
