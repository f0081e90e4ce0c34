import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkConfigShapes, checkSequenceLength, parseModelConfig } from '../../src/model/config';
import { allParamNames, paramShape } from '../../src/model/names';
import { SilError } from '../../src/errors';
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
    const c = parseModelConfig({
      architectures: ['MistralForCausalLM'],
      hidden_size: 64,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      head_dim: 32,
      intermediate_size: 96,
      num_hidden_layers: 1,
      vocab_size: 256,
      rope_theta: 1e6,
      sliding_window: 16,
    });
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

describe('config.json validation', () => {
  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ['a negative rms_norm_eps', { rms_norm_eps: -1 }, /"rms_norm_eps" must be a positive number/],
    ['a zero rope_theta', { rope_parameters: { rope_type: 'default', rope_theta: 0 } }, /"rope_theta" must be a positive number/],
    ['num_hidden_layers of 1e300', { num_hidden_layers: 1e300 }, /"num_hidden_layers" must be a positive integer up to 1024, found 1e\+300/],
    ['a string max_position_embeddings', { max_position_embeddings: 'x' }, /"max_position_embeddings" must be a positive integer.*"x"/],
    ['a string rope_scaling', { rope_scaling: 'linear', rope_parameters: null }, /"rope_scaling" must be null or an object, found "linear"/],
    ['a string tie_word_embeddings', { tie_word_embeddings: 'yes' }, /"tie_word_embeddings" must be true or false, found "yes"/],
    ['a fractional hidden_size', { hidden_size: 64.5 }, /"hidden_size" must be a positive integer/],
    ['a vocabulary of 2^40', { vocab_size: 2 ** 40 }, /"vocab_size" must be a positive integer up to/],
    ['a string architectures', { architectures: 'LlamaForCausalLM' }, /"architectures" must be a list of names/],
    ['a numeric dtype', { dtype: 16 }, /"dtype" must be a dtype name/],
    ['a negative sliding_window', { sliding_window: -4 }, /"sliding_window" must be a positive integer/],
  ];
  it.each(bad)('rejects %s with INVALID_CONFIG naming the file and the field', (_what, change, message) => {
    let err: unknown;
    try {
      parseModelConfig({ ...llama5, ...change }, '/m/config.json');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SilError);
    expect((err as SilError).code).toBe('INVALID_CONFIG');
    expect((err as SilError).message).toMatch(message);
    expect((err as SilError).message).toContain('file /m/config.json');
  });

  it('blames num_hidden_layers, not a cache, when the config has fewer layers than the checkpoint stores', () => {
    const cfg = parseModelConfig(qwen5);
    const shapes = new Map(allParamNames(cfg).map((n) => [n, paramShape(cfg, n)] as [string, number[]]));
    expect(() => checkConfigShapes(cfg, shapes, 'c.json')).not.toThrow();
    const fewer = parseModelConfig({ ...qwen5, num_hidden_layers: 2 });
    expect(() => checkConfigShapes(fewer, shapes, 'c.json')).toThrow(/"num_hidden_layers" is 2, but the checkpoint stores 3 decoder layers/);
    const more = parseModelConfig({ ...qwen5, num_hidden_layers: 4 });
    expect(() => checkConfigShapes(more, shapes, 'c.json')).toThrow(/does not store \("num_hidden_layers" is 4\).*tensor model\.layers\.3\./);
    const wide = parseModelConfig({ ...qwen5, vocab_size: 512 });
    expect(() => checkConfigShapes(wide, shapes, 'c.json')).toThrow(/"vocab_size" and "hidden_size" imply shape \[512, 64\], the checkpoint stores \[256, 64\].*tensor model\.embed_tokens\.weight/);
  });
});
