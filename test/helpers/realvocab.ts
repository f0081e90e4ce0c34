/**
 * A tiny Qwen2 or Llama pair with a real vocabulary (Qwen3's 151,669-entry tokenizer padded to the
 * 151,936 rows Qwen2 checkpoints carry, or Llama 3's 128,256), random BF16 weights and the real
 * tokenizer files from the shared fixtures: the shape that stresses memory plans through the logits,
 * not the layers.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeSafetensors } from '../../src/io/writer';
import { parseModelConfig } from '../../src/model/config';
import { allParamNames, paramShape } from '../../src/model/names';
import { TOKENIZERS } from './fixtures';

export const REAL_VOCAB = { qwen2: { vocab: 151936, tokenizer: 'qwen3' }, llama3: { vocab: 128256, tokenizer: 'llama3' } } as const;

export function realVocabConfig(family: keyof typeof REAL_VOCAB, layers = 1, hidden = 32): Record<string, unknown> {
  const common = {
    hidden_size: hidden,
    intermediate_size: 2 * hidden,
    num_hidden_layers: layers,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: REAL_VOCAB[family].vocab,
    rms_norm_eps: 1e-6,
    hidden_act: 'silu',
    max_position_embeddings: 4096,
  };
  return family === 'qwen2'
    ? { architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', ...common, rope_theta: 1e6, tie_word_embeddings: true, use_sliding_window: false, sliding_window: null }
    : { architectures: ['LlamaForCausalLM'], model_type: 'llama', ...common, rope_theta: 5e5, tie_word_embeddings: false };
}

/** Deterministic small values (a multiplicative hash), exact in BF16. */
function values(seed: number, n: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (((s >>> 16) % 257) - 128) * scale;
  }
  return out;
}

/** Writes `base/` and `attacked/` (base plus a small change in every tensor) under `dir`. */
export function writeRealVocabPair(dir: string, family: keyof typeof REAL_VOCAB = 'qwen2', layers = 1, hidden = 32): { base: string; attacked: string } {
  const raw = realVocabConfig(family, layers, hidden);
  const cfg = parseModelConfig(raw);
  const out = { base: path.join(dir, 'base'), attacked: path.join(dir, 'attacked') };
  const tok = path.join(TOKENIZERS, REAL_VOCAB[family].tokenizer);
  for (const [which, folder] of Object.entries(out)) {
    fs.mkdirSync(folder, { recursive: true });
    fs.writeFileSync(path.join(folder, 'config.json'), JSON.stringify(raw));
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(tok, f), path.join(folder, f));
    const tensors = allParamNames(cfg).map((name, ti) => {
      const shape = paramShape(cfg, name);
      const n = shape.reduce((a, b) => a * b, 1);
      const data = name.endsWith('norm.weight') ? new Float32Array(n).fill(1) : values(ti + 1, n, 1 / 2048);
      if (which === 'attacked') {
        const d = values(ti + 101, n, 1 / 8192);
        for (let i = 0; i < n; i++) data[i] += d[i];
      }
      return { name, shape, dtype: 'BF16' as const, data };
    });
    writeSafetensors(path.join(folder, 'model.safetensors'), tensors, { format: 'pt' });
  }
  return out;
}
