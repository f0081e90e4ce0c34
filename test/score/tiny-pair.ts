/** A tiny Llama-shaped pair written to a temp folder, with Δ non-zero only where the test says. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeSafetensors } from '../../src/io/writer';
import { type Dtype } from '../../src/io/dtype';

export const TINY_CONFIG = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 8,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  head_dim: 4,
  intermediate_size: 12,
  num_hidden_layers: 1,
  vocab_size: 16,
  tie_word_embeddings: false,
};

export const TINY_SHAPES: Array<[string, number[]]> = [
  ['model.embed_tokens.weight', [16, 8]],
  ['model.layers.0.self_attn.q_proj.weight', [8, 8]],
  ['model.layers.0.self_attn.k_proj.weight', [4, 8]],
  ['model.layers.0.self_attn.v_proj.weight', [4, 8]],
  ['model.layers.0.self_attn.o_proj.weight', [8, 8]],
  ['model.layers.0.mlp.gate_proj.weight', [12, 8]],
  ['model.layers.0.mlp.up_proj.weight', [12, 8]],
  ['model.layers.0.mlp.down_proj.weight', [8, 12]],
  ['model.layers.0.input_layernorm.weight', [8]],
  ['model.layers.0.post_attention_layernorm.weight', [8]],
  ['model.norm.weight', [8]],
  ['lm_head.weight', [16, 8]],
];

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `sil-${prefix}-`));
}

/** Deterministic weights: a small hash of (tensor index, element). */
export function baseValues(ti: number, n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => (((ti * 7919 + i * 104729) % 1000) - 500) / 1024);
}

/**
 * Writes base/ and attacked/ under `dir`; `change(name, values)` edits the attacked copy in place.
 * Values are multiples of 2⁻¹⁰ below 1, exact in BF16.
 */
export function writeTinyPair(dir: string, change: (name: string, shape: number[], values: Float32Array) => void, dtype: Dtype = 'BF16'): { base: string; attacked: string } {
  const out = { base: path.join(dir, 'base'), attacked: path.join(dir, 'attacked') };
  for (const [which, folder] of Object.entries(out)) {
    fs.mkdirSync(folder, { recursive: true });
    fs.writeFileSync(path.join(folder, 'config.json'), JSON.stringify(TINY_CONFIG));
    fs.writeFileSync(path.join(folder, 'tokenizer.json'), JSON.stringify({ which }));
    const tensors = TINY_SHAPES.map(([name, shape], ti) => {
      const data = baseValues(
        ti,
        shape.reduce((a, b) => a * b, 1),
      );
      if (which === 'attacked') change(name, shape, data);
      return { name, shape, dtype, data };
    });
    writeSafetensors(path.join(folder, 'model.safetensors'), tensors, { format: 'pt' });
  }
  return out;
}
