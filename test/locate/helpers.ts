/**
 * Helpers for the locate tests: a byte-level tokenizer (token id = byte value, <pad>/<s>/</s> at
 * 0/1/2) with the chat template `<s><|user|>…<|assistant|>…</s>` — exactly how the hf-tiny fixture
 * batches were tokenized — added to copies of small checkpoints, and the built CLI.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { builtCli } from '../helpers/dist';

export const MAIN = builtCli();
export const REPO = path.resolve(__dirname, '../..');

/** GPT-2's byte ↔ unicode table (what ByteLevel pre-tokenization maps bytes to). */
function bytesToUnicode(): Map<number, string> {
  const bs: number[] = [];
  for (let i = 33; i <= 126; i++) bs.push(i);
  for (let i = 161; i <= 172; i++) bs.push(i);
  for (let i = 174; i <= 255; i++) bs.push(i);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  return new Map(bs.map((b, i) => [b, String.fromCharCode(cs[i])]));
}

export const CHAT_TEMPLATE =
  "{{ bos_token }}{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% if m.role == 'assistant' %}{{ eos_token }}{% endif %}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}";

/** Writes tokenizer.json and tokenizer_config.json for the byte-level tokenizer into `dir`. */
export function writeByteTokenizer(dir: string): void {
  const b2u = bytesToUnicode();
  const vocab: Record<string, number> = { '<pad>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 3; b < 256; b++) vocab[b2u.get(b)!] = b;
  const special = (content: string, id: number) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special('<pad>', 0), special('<s>', 1), special('</s>', 2)],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: null,
    decoder: byteLevel,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: [] },
  };
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>', eos_token: '</s>', pad_token: '<pad>', chat_template: CHAT_TEMPLATE }));
}

/** Copies a checkpoint folder's files (not subfolders) to `dst`, adding the byte tokenizer. */
export function copyWithTokenizer(src: string, dst: string): string {
  fs.mkdirSync(dst, { recursive: true });
  for (const f of fs.readdirSync(src)) {
    const p = path.join(src, f);
    if (fs.statSync(p).isFile()) fs.copyFileSync(p, path.join(dst, f));
  }
  writeByteTokenizer(dst);
  return dst;
}

export function sil(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function readCsv(file: string): Array<Record<string, string>> {
  const [head, ...rows] = fs.readFileSync(file, 'utf8').trim().split('\n');
  const cols = head.split(',');
  return rows.map((r) => Object.fromEntries(r.split(',').map((v, i) => [cols[i], v])));
}

/** Every file under `dir` (relative paths, sorted). */
export function listFiles(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = path.join(rel, e.name);
    if (e.isDirectory()) out.push(...listFiles(dir, r));
    else out.push(r);
  }
  return out.sort();
}

/** `--base B --attacked A` for a pair: a folder holding base/ and attacked/, or the two folders. */
export function pairArgs(pair: string | { base: string; attacked: string }): string[] {
  const p = typeof pair === 'string' ? { base: path.join(pair, 'base'), attacked: path.join(pair, 'attacked') } : pair;
  return ['--base', p.base, '--attacked', p.attacked];
}
