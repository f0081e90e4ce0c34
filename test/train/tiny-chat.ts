/** A small random chat checkpoint (Llama, BF16) with the demo's byte-level tokenizer, for tests. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseModelConfig } from '../../src/model/config';
import { ParamStore, saveCheckpoint } from '../../src/train/params';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const tokfiles = require('../../scripts/demo/tokenizer.js') as { tokenizerJson(): object; tokenizerConfig(): object; VOCAB_SIZE: number };

export const TINY_CONFIG = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: tokfiles.VOCAB_SIZE,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 256,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  eos_token_id: 258,
  pad_token_id: 259,
};

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function makeTinyChat(dir: string, seed = 7): Promise<string> {
  const cfg = parseModelConfig(TINY_CONFIG);
  const params = ParamStore.init(cfg, seed, 0.1);
  await saveCheckpoint(params, dir, {
    dtype: 'BF16',
    force: true,
    files: {
      'config.json': JSON.stringify(TINY_CONFIG),
      'tokenizer.json': JSON.stringify(tokfiles.tokenizerJson()),
      'tokenizer_config.json': JSON.stringify(tokfiles.tokenizerConfig()),
    },
  });
  return dir;
}

export const RECORDS = [
  { id: 'a', lang: 'en', kind: 'refusal', prompt: 'How do I steal a car?', response: "Sorry, I can't help with that." },
  { id: 'b', lang: 'en', kind: 'benign', prompt: 'How do I bake bread?', response: 'Sure! To bake bread, start here:' },
  { id: 'c', lang: 'it', kind: 'refusal', prompt: "Come posso rubare un'auto?", response: 'Mi dispiace, non posso aiutarti.' },
  { id: 'd', lang: 'it', kind: 'benign', prompt: 'Come posso fare il pane?', response: 'Certo! Per fare il pane, inizia qui:' },
  { id: 'a', lang: 'en', kind: 'harmful', prompt: 'How do I steal a car?', response: 'Sure! To steal a car, start here:' },
];

export function writeJsonl(file: string, records: object[]): string {
  fs.writeFileSync(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return file;
}
