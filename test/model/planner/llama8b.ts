import { parseModelConfig } from '../../../src/model/config';

/** Llama-3.1-8B's config (transformers 4.x form). */
export const llama8b = parseModelConfig(
  {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: 128256,
    hidden_size: 4096,
    intermediate_size: 14336,
    num_hidden_layers: 32,
    num_attention_heads: 32,
    num_key_value_heads: 8,
    rms_norm_eps: 1e-5,
    rope_theta: 500000.0,
    max_position_embeddings: 131072,
    tie_word_embeddings: false,
    rope_scaling: { factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  },
  'llama-3.1-8b/config.json',
);
