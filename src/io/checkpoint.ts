/**
 * A Hugging Face checkpoint, opened lazily: a folder with `config.json` and either
 * `model.safetensors` or `model.safetensors.index.json` + shards, or a single `.safetensors` file.
 * Tensors are addressed by name, never by shard (base and attacked copies are often sharded
 * differently). Only headers are read on open.
 *
 * Tied embeddings: when the config sets `tie_word_embeddings` and no `lm_head.weight` is stored,
 * `lm_head.weight` resolves to the embedding for reads, but `names()` lists stored tensors only, so
 * statistics never count the shared matrix twice.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SilError } from '../errors';
import { type RawArray } from './dtype';
import { SafetensorsFile, type TensorInfo } from './safetensors';

export type HfConfig = Record<string, unknown> & {
  architectures?: string[];
  model_type?: string;
  tie_word_embeddings?: boolean;
};

const INDEX_NAME = 'model.safetensors.index.json';
const SINGLE_NAME = 'model.safetensors';
export const TIED_HEAD = 'lm_head.weight';
export const EMBED = 'model.embed_tokens.weight';

function readJson(file: string, code: 'INVALID_INDEX' | 'INVALID_CONFIG'): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new SilError('FILE_NOT_FOUND', `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new SilError(code, `not valid JSON: ${(e as Error).message}`, { file });
  }
}

export class Checkpoint {
  /** folder (or the file itself for a lone .safetensors) */
  readonly location: string;
  readonly dir: string;
  readonly config: HfConfig | null;
  readonly files: SafetensorsFile[];
  private readonly byName = new Map<string, { file: SafetensorsFile; info: TensorInfo }>();
  private readonly order: string[] = [];
  /** alias → stored name (the tied head) */
  readonly aliases = new Map<string, string>();

  private constructor(location: string, dir: string, config: HfConfig | null, files: SafetensorsFile[], weightMap?: Record<string, string>) {
    this.location = location;
    this.dir = dir;
    this.config = config;
    this.files = files;
    for (const f of files) {
      for (const [name, info] of f.tensors) {
        if (this.byName.has(name)) {
          throw new SilError('INVALID_INDEX', `tensor stored in both ${this.byName.get(name)!.file.path} and ${f.path}`, { file: f.path, tensor: name });
        }
        this.byName.set(name, { file: f, info });
        this.order.push(name);
      }
    }
    if (weightMap) {
      for (const [name, shard] of Object.entries(weightMap)) {
        const hit = this.byName.get(name);
        if (!hit || path.basename(hit.file.path) !== shard) {
          throw new SilError('INVALID_INDEX', `index maps the tensor to ${shard}, which does not hold it`, { file: path.join(dir, INDEX_NAME), tensor: name });
        }
      }
    }
    if (config?.tie_word_embeddings && !this.byName.has(TIED_HEAD) && this.byName.has(EMBED)) {
      this.aliases.set(TIED_HEAD, EMBED);
    }
  }

  /** Opens a checkpoint folder or a single .safetensors file. */
  static open(location: string): Checkpoint {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(location);
    } catch {
      throw new SilError('FILE_NOT_FOUND', 'no such checkpoint folder or file', { file: location });
    }
    if (!stat.isFile() && !stat.isDirectory()) {
      throw new SilError('NOT_A_FILE', 'a checkpoint folder or .safetensors file is expected, found a device or special file', { file: location });
    }
    const files: SafetensorsFile[] = [];
    try {
      if (stat.isFile()) {
        const dir = path.dirname(location);
        const cfgPath = path.join(dir, 'config.json');
        const config = fs.existsSync(cfgPath) ? (readJson(cfgPath, 'INVALID_CONFIG') as HfConfig) : null;
        files.push(SafetensorsFile.open(location));
        return new Checkpoint(location, dir, config, files);
      }
      const dir = location;
      const cfgPath = path.join(dir, 'config.json');
      const config = fs.existsSync(cfgPath) ? (readJson(cfgPath, 'INVALID_CONFIG') as HfConfig) : null;
      const indexPath = path.join(dir, INDEX_NAME);
      if (fs.existsSync(indexPath)) {
        const index = readJson(indexPath, 'INVALID_INDEX') as { weight_map?: Record<string, string> };
        if (!index || typeof index.weight_map !== 'object' || index.weight_map === null) {
          throw new SilError('INVALID_INDEX', 'index has no weight_map object', { file: indexPath });
        }
        for (const [name, shard] of Object.entries(index.weight_map)) {
          if (typeof shard !== 'string' || shard === '' || shard !== path.basename(shard) || shard === '..' || shard === '.') {
            throw new SilError('INVALID_INDEX', `shard ${JSON.stringify(shard)} is not a file name inside the folder`, { file: indexPath, tensor: name });
          }
        }
        const shards = [...new Set(Object.values(index.weight_map))].sort();
        for (const s of shards) {
          const p = path.join(dir, s);
          if (!fs.existsSync(p)) throw new SilError('MISSING_SHARD', `shard ${s} is listed in the index but missing`, { file: p });
          if (!fs.statSync(p).isFile()) throw new SilError('INVALID_INDEX', `shard ${s} is listed in the index but is not a regular file`, { file: p });
          files.push(SafetensorsFile.open(p));
        }
        return new Checkpoint(location, dir, config, files, index.weight_map);
      }
      const single = path.join(dir, SINGLE_NAME);
      const candidates = fs.existsSync(single)
        ? [single]
        : fs
            .readdirSync(dir)
            .filter((f) => f.endsWith('.safetensors'))
            .sort()
            .map((f) => path.join(dir, f));
      if (candidates.length === 0) {
        throw new SilError('FILE_NOT_FOUND', `no ${SINGLE_NAME}, ${INDEX_NAME} or *.safetensors in the folder`, { file: dir });
      }
      for (const c of candidates) files.push(SafetensorsFile.open(c));
      return new Checkpoint(location, dir, config, files);
    } catch (e) {
      for (const f of files) f.close();
      throw e;
    }
  }

  get architecture(): string | null {
    return this.config?.architectures?.[0] ?? null;
  }

  /** Stored tensor names, in file order (the tied head is not listed). */
  names(): string[] {
    return [...this.order];
  }

  has(name: string): boolean {
    return this.byName.has(name) || this.aliases.has(name);
  }

  private resolve(name: string): { file: SafetensorsFile; info: TensorInfo } {
    const hit = this.byName.get(this.aliases.get(name) ?? name);
    if (!hit) throw new SilError('TENSOR_NOT_FOUND', 'no such tensor in the checkpoint', { file: this.location, tensor: name });
    return hit;
  }

  info(name: string): TensorInfo {
    return this.resolve(name).info;
  }

  readF32(name: string, start = 0, end?: number, out?: Float32Array): Float32Array {
    return this.resolve(name).file.readF32(this.aliases.get(name) ?? name, start, end, out);
  }

  readRaw(name: string, start = 0, end?: number): RawArray {
    return this.resolve(name).file.readRaw(this.aliases.get(name) ?? name, start, end);
  }

  readBytes(name: string, start = 0, end?: number, into?: Uint8Array): Uint8Array {
    return this.resolve(name).file.readBytes(this.aliases.get(name) ?? name, start, end, into);
  }

  /** Total stored parameters (the tied head counted once). */
  numel(): number {
    let n = 0;
    for (const { info } of this.byName.values()) n += info.numel;
    return n;
  }

  /** sha256 over every file's raw header, in file order: identifies the checkpoint cheaply. */
  headerSha256(): string {
    const h = createHash('sha256');
    for (const f of this.files) h.update(f.header.rawHeader);
    return h.digest('hex');
  }

  /**
   * A content fingerprint for caches: sha256 over every file's header, data length and 32 evenly
   * spaced 64 KiB samples of its data. Unlike `headerSha256` (equal for any two checkpoints of the
   * same layout, e.g. a base and its attacked copy) it changes when the weights change, while
   * reading at most 2 MiB per file.
   */
  contentSha256(): string {
    const h = createHash('sha256');
    const sample = new Uint8Array(64 * 1024);
    for (const f of this.files) {
      h.update(f.header.rawHeader);
      const start = 8 + f.header.headerBytes;
      const len = f.size - start;
      h.update(String(len));
      const n = len <= sample.length * 32 ? Math.ceil(len / sample.length) : 32;
      for (let i = 0; i < n; i++) {
        const off = n === 1 ? 0 : Math.floor(((len - sample.length) * i) / (n - 1));
        const m = Math.min(sample.length, len - Math.max(0, off));
        if (m <= 0) continue;
        h.update(f.readAt(start + Math.max(0, off), sample.subarray(0, m)));
      }
    }
    return h.digest('hex');
  }

  /**
   * The checkpoint's identity by content: sha256 over every stored tensor, in name order, of its
   * name, dtype, shape and data bytes. Shard layout, tensor order in the files and header padding
   * do not change it; any changed weight does (unlike `headerSha256`, equal for a base and its
   * attacked copy). Reads every byte once, `chunkBytes` at a time; `onBytes` reports progress.
   */
  dataSha256(onBytes?: (done: number, total: number) => void, chunkBytes = 8 << 20): string {
    const h = createHash('sha256');
    const names = [...this.order].sort();
    let total = 0;
    for (const n of names) total += this.byName.get(n)!.info.byteEnd - this.byName.get(n)!.info.byteStart;
    const buf = new Uint8Array(Math.max(1, Math.min(chunkBytes, total)));
    let done = 0;
    for (const n of names) {
      const { file, info } = this.byName.get(n)!;
      h.update(`${n}\u0000${info.dtype}\u0000${info.shape.join(',')}\u0000`);
      for (let pos = info.byteStart; pos < info.byteEnd;) {
        const len = Math.min(buf.length, info.byteEnd - pos);
        h.update(file.readAt(pos, buf.subarray(0, len)));
        pos += len;
        done += len;
        onBytes?.(done, total);
      }
    }
    return h.digest('hex');
  }

  close(): void {
    for (const f of this.files) f.close();
  }
}
