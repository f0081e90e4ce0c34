/**
 * Content hashes for provenance: of files, folders, a checkpoint's tokenizer files. A run's
 * manifest records them so a result can be traced to the exact inputs, and `sil locate --replay`
 * can tell whether the inputs are still the same before re-running.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** sha256 of a file of any size, read in 16 MiB pieces. */
export function sha256File(file: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(16 * 2 ** 20);
    for (let pos = 0; ;) {
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      pos += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/** Regular files under `dir`, relative, sorted (hidden entries skipped). */
function listFiles(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (e.name.startsWith('.')) continue;
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(dir, r));
    else if (e.isFile()) out.push(r);
  }
  return out;
}

/**
 * sha256 of a file, or of a folder: over `<relative path>\0<sha256 of the file>\n` for every file
 * in it, sorted. Null when the path does not exist.
 */
export function sha256Path(p: string): string | null {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    return null;
  }
  if (st.isFile()) return sha256File(p);
  if (!st.isDirectory()) return null;
  const h = createHash('sha256');
  for (const f of listFiles(p)) h.update(`${f}\u0000${sha256File(path.join(p, f))}\n`);
  return h.digest('hex');
}

/** The files of a checkpoint folder that decide how text becomes token ids. */
export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja', 'chat_template.json', 'special_tokens_map.json'] as const;

export interface TokenizerHash {
  path: string;
  /** sha256 over `<name>\0<sha256 of the file>\n` for each file present, in TOKENIZER_FILES order */
  sha256: string;
  files: string[];
}

/** Hash of a checkpoint folder's tokenizer files; null when it has none. */
export function tokenizerSha256(dir: string): TokenizerHash | null {
  const files = TOKENIZER_FILES.filter((f) => fs.existsSync(path.join(dir, f)));
  if (files.length === 0) return null;
  const h = createHash('sha256');
  for (const f of files) h.update(`${f}\u0000${sha256File(path.join(dir, f))}\n`);
  return { path: path.resolve(dir), sha256: h.digest('hex'), files: [...files] };
}
