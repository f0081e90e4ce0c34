import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkSequenceLength, parseModelConfig } from '../../src/model/config';
import { HF_TINY } from '../helpers/fixtures';

const llama5 = JSON.parse(fs.readFileSync(path.join(HF_TINY, 'llama3-tiny-bf16/base/config.json'), 'utf8'));
const qwen5 = JSON.parse(fs.readFileSync(path.join(HF_TINY, 'qwen2-tiny-bf16-sharded/base/config.json'), 'utf8'));

/** The same Llama config as transformers 4.x writes it. */
function llama4x(): Record<string, unknown> {
  const c = { ...llama5 };
  delete c.rope_parameters;
  delete c.head_dim;
  delete c.dtype;
  c.torch_dtype = 'bfloat16';
  c.rope_theta = 500000.0;
  c.rope_scaling = { factor: 8.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' };
  return c;
}

describe('parseModelConfig', () => {
  it('reads the transformers 5.x Llama form with llama3 RoPE scaling', () => {
    const c = parseModelConfig(llama5);
    expect(c).toMatchObject({ architecture: 'LlamaForCausalLM', hiddenSize: 64, numHeads: 4, numKvHeads: 2, headDim: 16, numLayers: 2, tieWordEmbeddings: false, qkvBias: false, dtype: 'bfloat16' });
    expect(c.rope).toEqual({ type: 'llama3', theta: 500000, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
  });

  it('reads the transformers 4.x form the same way, deriving head_dim from hidden/heads', () => {
    expect(parseModelConfig(llama4x())).toEqual(parseModelConfig(llama5));
  });

  it('accepts the older rope_scaling key "type" and a null rope_scaling', () => {
    const c = llama4x();
    c.rope_scaling = { type: 'linear', factor: 2 };
    expect(parseModelConfig(c).rope).toEqual({ type: 'linear', theta: 500000, factor: 2 });
    c.rope_scaling = null;
    expect(parseModelConfig(c).rope).toEqual({ type: 'default', theta: 500000 });
  });

  it('gives Qwen2 q/k/v biases, tied embeddings and its rope_theta', () => {
    const c = parseModelConfig(qwen5);
    expect(c).toMatchObject({ architecture: 'Qwen2ForCausalLM', qkvBias: true, oBias: false, tieWordEmbeddings: true, slidingWindow: null });
    expect(c.rope).toEqual({ type: 'default', theta: 1e6 });
  });

  it('keeps an explicit Mistral head_dim that differs from hidden/heads and enforces the sliding window', () => {
    const c = parseModelConfig({ architectures: ['MistralForCausalLM'], hidden_size: 64, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 32, intermediate_size: 96, num_hidden_layers: 1, vocab_size: 256, rope_theta: 1e6, sliding_window: 16 });
    expect(c.headDim).toBe(32);
    expect(c.slidingWindow).toBe(16);
    expect(() => checkSequenceLength(c, 16)).not.toThrow();
    expect(() => checkSequenceLength(c, 17)).toThrow(/sliding_window 16/);
  });

  it('rejects an unsupported architecture, naming it and listing the supported ones', () => {
    expect(() => parseModelConfig({ ...llama5, architectures: ['GPT2LMHeadModel'] })).toThrow(/GPT2LMHeadModel.*LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM/);
  });

  it('rejects unsupported options by name', () => {
    expect(() => parseModelConfig({ ...llama5, rope_parameters: { rope_type: 'yarn', rope_theta: 1e4, factor: 4 } })).toThrow(/RoPE type "yarn".*default, linear, llama3/);
    expect(() => parseModelConfig({ ...llama5, hidden_act: 'gelu' })).toThrow(/hidden_act "gelu"/);
    expect(() => parseModelConfig({ ...llama5, num_key_value_heads: 3 })).toThrow(/multiple of num_key_value_heads/);
  });
});
