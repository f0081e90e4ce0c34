/**
 * safetensors writer, streaming and atomic.
 *
 * The caller declares every tensor (name, dtype, shape) up front, so the header — and with it each
 * tensor's byte range — is fixed before any data is written; data then goes to the file tensor by
 * tensor, or in element ranges in any order (positional writes), and never has to be held whole.
 * Everything is written to a temporary sibling file, which `close()` renames into place only when
 * every declared byte was supplied; `abort()` (or any error) leaves nothing behind.
 *
 * Layout follows Hugging Face: u64 LE header length, JSON header with `__metadata__` first, padded
 * with spaces so the data buffer starts at a multiple of 8, tensors packed in declaration order.
 * Large outputs are split into shards with a `model.safetensors.index.json` like `save_pretrained`.
 *
 * Data encoding: F32/F16/BF16 tensors take a `Float32Array` (encoded here, BF16/F16 with
 * round-to-nearest-even); F64 takes Float64Array (or Float32Array); integer and BOOL dtypes take
 * their own typed array or raw little-endian bytes (a `Uint8Array` is always taken as raw bytes).
 *
 * @example
 *   const w = SafetensorsWriter.create('out/mask.safetensors',
 *     [{ name: 'a', dtype: 'U8', shape: [2, 3] }], { format: 'pt' });
 *   w.write('a', new Uint8Array([0, 1, 1, 0, 0, 1]));
 *   w.close();
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SilError } from '../errors';
import { DTYPE_BYTES, type Dtype, encodeBf16, encodeF16 } from './dtype';
import { releaseTemp, tempPath } from './temp';

export interface TensorSpec {
  name: string;
  dtype: Dtype;
  shape: number[];
}

/** Data for one tensor or an element range of it (see the module comment for what each dtype takes). */
export type TensorData = Float32Array | Float64Array | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | BigInt64Array | BigUint64Array;

/** A tensor with its data, for {@link writeSafetensors}. */
export interface TensorWithData extends TensorSpec {
  data: TensorData;
}

/** Largest single `fs.writeSync` (it refuses lengths past 2 GiB). */
const MAX_WRITE = 1 << 30;

function numelOf(shape: number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Bytes a tensor occupies in the data buffer. */
export function tensorBytes(spec: TensorSpec): number {
  return numelOf(spec.shape) * DTYPE_BYTES[spec.dtype];
}

const tmpSibling = tempPath;

/**
 * The header bytes (length prefix included) for `specs` laid out in order, and each tensor's
 * [begin, end) offset in the data buffer.
 */
export function buildHeader(specs: TensorSpec[], metadata: Record<string, string> = {}): { bytes: Buffer; offsets: Map<string, [number, number]> } {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SilError('INVALID_ARGUMENT', `__metadata__ values must be strings; ${k} is ${typeof v}`);
    }
    header.__metadata__ = metadata;
  }
  const offsets = new Map<string, [number, number]>();
  let pos = 0;
  for (const s of specs) {
    if (s.name === '__metadata__' || offsets.has(s.name)) {
      throw new SilError('INVALID_ARGUMENT', 'tensor name is reserved or declared twice', { tensor: s.name });
    }
    if (!(s.dtype in DTYPE_BYTES)) throw new SilError('UNKNOWN_DTYPE', `cannot write dtype ${String(s.dtype)}`, { tensor: s.name });
    if (!s.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SilError('INVALID_ARGUMENT', `shape ${JSON.stringify(s.shape)} is not a list of non-negative integers`, { tensor: s.name });
    }
    const end = pos + tensorBytes(s);
    offsets.set(s.name, [pos, end]);
    header[s.name] = { dtype: s.dtype, shape: s.shape, data_offsets: [pos, end] };
    pos = end;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  const bytes = Buffer.alloc(8 + padded, 0x20);
  bytes.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(bytes, 8);
  return { bytes, offsets };
}

/** A header (length prefix included) padded with spaces to `length` bytes (a multiple of 8 above it). */
function padHeader(header: Buffer, length: number): Buffer {
  const total = 8 + Math.ceil((length - 8) / 8) * 8;
  const out = Buffer.alloc(total, 0x20);
  out.writeBigUInt64LE(BigInt(total - 8), 0);
  header.copy(out, 8, 8);
  return out;
}

/** The typed-array kind of `data`, by tag (works across realms, e.g. arrays posted from workers). */
function kindOf(data: TensorData): string {
  return (data as unknown as { [Symbol.toStringTag]: string })[Symbol.toStringTag];
}

/** Encodes `data` (elements of a `dtype` tensor) to little-endian bytes. */
export function encodeData(dtype: Dtype, data: TensorData, tensor?: string): Uint8Array {
  const asBytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const kind = kindOf(data);
  if (kind === 'Uint8Array' && dtype !== 'U8' && dtype !== 'BOOL') return data as Uint8Array; // raw bytes
  const floats = (): Float32Array | null => (kind === 'Float32Array' ? (data as Float32Array) : kind === 'Float64Array' ? Float32Array.from(data as Float64Array) : null);
  const want: Partial<Record<Dtype, string[]>> = {
    U8: ['Uint8Array', 'Int8Array'],
    BOOL: ['Uint8Array', 'Int8Array'],
    I8: ['Int8Array'],
    I16: ['Int16Array'],
    U16: ['Uint16Array'],
    I32: ['Int32Array'],
    U32: ['Uint32Array'],
    I64: ['BigInt64Array'],
    U64: ['BigUint64Array'],
  };
  switch (dtype) {
    case 'F32': {
      const f = floats();
      if (f) return asBytes(f);
      break;
    }
    case 'BF16':
    case 'F16': {
      if (kind === 'Uint16Array') return asBytes(data); // already encoded halves
      const f = floats();
      if (f) return asBytes(dtype === 'BF16' ? encodeBf16(f) : encodeF16(f));
      break;
    }
    case 'F64':
      if (kind === 'Float64Array') return asBytes(data);
      if (kind === 'Float32Array') return asBytes(Float64Array.from(data as Float32Array));
      break;
    default:
      if (want[dtype]?.includes(kind)) return asBytes(data);
  }
  throw new SilError('INVALID_DATA', `cannot write ${kind} as ${dtype}`, { tensor });
}

interface Slot {
  spec: TensorSpec;
  /** absolute byte offset of the tensor in the file */
  start: number;
  bytes: number;
  /** bytes supplied so far, and the next element for sequential `write` */
  written: number;
  cursor: number;
  /** built by `addAt` (a sum: elements never added to are 0) */
  summed?: boolean;
}

/** One safetensors file being written; see the module comment. */
export class SafetensorsWriter {
  readonly file: string;
  readonly tmpFile: string;
  private fd: number;
  private readonly slots = new Map<string, Slot>();
  private readonly order: string[];
  private readonly headerBytes: number;

  private constructor(file: string, tmpFile: string, fd: number, slots: Slot[], headerBytes: number) {
    this.file = file;
    this.tmpFile = tmpFile;
    this.fd = fd;
    this.headerBytes = headerBytes;
    for (const s of slots) this.slots.set(s.spec.name, s);
    this.order = slots.map((s) => s.spec.name);
  }

  /**
   * Opens a temporary file next to `file` and writes the header for `specs` (in that order), with
   * `reserveHeaderBytes` of spaces after it for metadata set later (`setMetadata`).
   */
  static create(file: string, specs: TensorSpec[], metadata: Record<string, string> = {}, o: { reserveHeaderBytes?: number } = {}): SafetensorsWriter {
    const built = buildHeader(specs, metadata);
    const { offsets } = built;
    const bytes = o.reserveHeaderBytes ? padHeader(built.bytes, built.bytes.length + o.reserveHeaderBytes) : built.bytes;
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    const tmp = tmpSibling(file);
    const fd = fs.openSync(tmp, 'w+');
    try {
      writeAll(fd, bytes, 0);
      const dataStart = bytes.length;
      const total = specs.reduce((a, s) => a + tensorBytes(s), 0);
      fs.ftruncateSync(fd, dataStart + total);
      const slots = specs.map((spec) => {
        const [b, e] = offsets.get(spec.name)!;
        return { spec, start: dataStart + b, bytes: e - b, written: 0, cursor: 0 };
      });
      return new SafetensorsWriter(path.resolve(file), tmp, fd, slots, bytes.length);
    } catch (e) {
      fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
      releaseTemp(tmp);
      throw e;
    }
  }

  /** Declared tensor names, in file order. */
  names(): string[] {
    return [...this.order];
  }

  has(name: string): boolean {
    return this.slots.has(name);
  }

  private slot(name: string): Slot {
    const s = this.slots.get(name);
    if (!s) throw new SilError('TENSOR_NOT_FOUND', 'tensor was not declared when the writer was created', { file: this.file, tensor: name });
    return s;
  }

  /** Appends the next elements of `name` (call repeatedly to stream a tensor in order). */
  write(name: string, data: TensorData): void {
    const s = this.slot(name);
    s.cursor += this.writeAt(name, s.cursor, data);
  }

  /**
   * Writes elements [start, start + n) of `name` (positional; does not move `write`'s cursor).
   * Ranges may come in any order but must not overlap. Returns n.
   */
  writeAt(name: string, start: number, data: TensorData): number {
    if (this.fd < 0) throw new SilError('INVALID_ARGUMENT', 'writer is already closed', { file: this.file, tensor: name });
    const s = this.slot(name);
    const w = DTYPE_BYTES[s.spec.dtype];
    const bytes = encodeData(s.spec.dtype, data, name);
    if (bytes.byteLength % w !== 0) throw new SilError('INVALID_DATA', `${bytes.byteLength} bytes is not a whole number of ${s.spec.dtype} elements`, { file: this.file, tensor: name });
    const n = bytes.byteLength / w;
    if (start < 0 || (start + n) * w > s.bytes) {
      throw new SilError('INVALID_DATA', `elements [${start}, ${start + n}) fall outside the declared ${s.bytes / w}`, { file: this.file, tensor: name });
    }
    writeAll(this.fd, bytes, s.start + start * w);
    s.written += bytes.byteLength;
    return n;
  }

  /**
   * Adds `data` to elements [start, start + n) of the F32 tensor `name` in the file (elements start
   * at 0): a sum built in place on disk, one range in memory at a time. Returns n.
   */
  addAt(name: string, start: number, data: Float32Array): number {
    if (this.fd < 0) throw new SilError('INVALID_ARGUMENT', 'writer is already closed', { file: this.file, tensor: name });
    const s = this.slot(name);
    if (s.spec.dtype !== 'F32') throw new SilError('INVALID_ARGUMENT', `sums are built in F32 tensors, not ${s.spec.dtype}`, { file: this.file, tensor: name });
    const cur = this.readAt(name, start, data.length);
    for (let i = 0; i < data.length; i++) cur[i] += data[i];
    writeAll(this.fd, new Uint8Array(cur.buffer), s.start + start * 4);
    s.summed = true;
    return data.length;
  }

  /** Elements [start, start + n) of the F32 tensor `name` as written so far. */
  readAt(name: string, start: number, n: number): Float32Array {
    const s = this.slot(name);
    if (s.spec.dtype !== 'F32') throw new SilError('INVALID_ARGUMENT', `only F32 tensors are read back, not ${s.spec.dtype}`, { file: this.file, tensor: name });
    if (start < 0 || (start + n) * 4 > s.bytes) throw new SilError('INVALID_DATA', `elements [${start}, ${start + n}) fall outside the declared ${s.bytes / 4}`, { file: this.file, tensor: name });
    const out = new Float32Array(n);
    const buf = new Uint8Array(out.buffer);
    let done = 0;
    while (done < buf.byteLength) {
      const got = fs.readSync(this.fd, buf, done, Math.min(MAX_WRITE, buf.byteLength - done), s.start + start * 4 + done);
      if (got === 0) break; // past the end of a sparse tail: zeros
      done += got;
    }
    return out;
  }

  /**
   * Replaces the header's `__metadata__` (e.g. counts known only at the end). The new header must
   * not be longer than the one written at `create` (reserve room there with `reserveHeaderBytes`);
   * it is padded with spaces to the same length, so no data moves.
   */
  setMetadata(metadata: Record<string, string>): void {
    const specs = this.order.map((n) => this.slots.get(n)!.spec);
    const { bytes } = buildHeader(specs, metadata);
    if (bytes.length > this.headerBytes) {
      throw new SilError('INVALID_ARGUMENT', `new metadata needs ${bytes.length} header bytes; ${this.headerBytes} were reserved`, { file: this.file });
    }
    writeAll(this.fd, padHeader(bytes, this.headerBytes), 0);
  }

  /** Finishes the file: checks every declared byte was written, then renames the temp file into place. */
  close(): void {
    if (this.fd < 0) return;
    const short = [...this.slots.values()].find((s) => s.written !== s.bytes && !s.summed);
    if (short) {
      this.abort();
      throw new SilError('INVALID_DATA', `${short.written} of ${short.bytes} declared bytes were written`, { file: this.file, tensor: short.spec.name });
    }
    fs.closeSync(this.fd);
    this.fd = -1;
    fs.renameSync(this.tmpFile, this.file);
    releaseTemp(this.tmpFile);
  }

  /** Drops the temporary file; the target is untouched. */
  abort(): void {
    if (this.fd >= 0) {
      fs.closeSync(this.fd);
      this.fd = -1;
    }
    fs.rmSync(this.tmpFile, { force: true });
    releaseTemp(this.tmpFile);
  }
}

function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.byteLength) {
    const n = fs.writeSync(fd, bytes, done, Math.min(MAX_WRITE, bytes.byteLength - done), position + done);
    done += n;
  }
}

/** Writes small tensors held in memory to one file, atomically. */
export function writeSafetensors(file: string, tensors: TensorWithData[], metadata: Record<string, string> = {}): void {
  const w = SafetensorsWriter.create(
    file,
    tensors.map(({ name, dtype, shape }) => ({ name, dtype, shape })),
    metadata,
  );
  try {
    for (const t of tensors) w.write(t.name, t.data);
    w.close();
  } catch (e) {
    w.abort();
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Sharded output

/** `"5GB"` → 5e9, `"500MiB"` → 500·2²⁰, plain numbers are bytes (Hugging Face's `max_shard_size`). */
export function parseSize(s: string | number): number {
  if (typeof s === 'number') return s;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$/i.exec(s);
  if (!m) throw new SilError('INVALID_ARGUMENT', `cannot read size ${JSON.stringify(s)}; expected e.g. 5GB, 500MB, 2GiB or a byte count`);
  const unit = (m[2] ?? 'B').toUpperCase();
  if (unit === 'B' && !Number.isInteger(Number(m[1]))) throw new SilError('INVALID_ARGUMENT', `size ${JSON.stringify(s)}: a byte count is a whole number (or give a unit: 1.5GB)`);
  const mult: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30, TIB: 2 ** 40 };
  const v = Math.floor(Number(m[1]) * mult[unit]);
  if (!(v > 0)) throw new SilError('INVALID_ARGUMENT', `size ${JSON.stringify(s)} must be positive`);
  return v;
}

/**
 * Groups tensors (in order) into shards of at most `maxShardBytes` data bytes, as `save_pretrained`
 * does: a tensor larger than the limit gets a shard of its own.
 */
export function planShards(specs: TensorSpec[], maxShardBytes: number): TensorSpec[][] {
  const shards: TensorSpec[][] = [];
  let cur: TensorSpec[] = [];
  let size = 0;
  for (const s of specs) {
    const b = tensorBytes(s);
    if (cur.length > 0 && size + b > maxShardBytes) {
      shards.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(s);
    size += b;
  }
  if (cur.length > 0 || shards.length === 0) shards.push(cur);
  return shards;
}

export const INDEX_FILE = 'model.safetensors.index.json';

/**
 * A checkpoint-style output folder: `model.safetensors` when everything fits in one shard, else
 * `model-0000i-of-0000N.safetensors` + `model.safetensors.index.json`
 * (`{metadata: {total_size}, weight_map: {name: shard}}`). Readable back with `Checkpoint.open(dir)`.
 * Every shard and the index are written to temp files and renamed only in `close()`.
 */
export class ShardedWriter {
  readonly dir: string;
  readonly shardFiles: string[];
  private readonly writers: SafetensorsWriter[] = [];
  private readonly byName = new Map<string, SafetensorsWriter>();
  private readonly weightMap: Record<string, string> = {};
  private readonly totalSize: number;
  private done = false;

  constructor(dir: string, specs: TensorSpec[], opts: { maxShardSize?: string | number; metadata?: Record<string, string>; prefix?: string } = {}) {
    this.dir = path.resolve(dir);
    const max = parseSize(opts.maxShardSize ?? '5GB');
    const prefix = opts.prefix ?? 'model';
    const plan = planShards(specs, max);
    const n = plan.length;
    const pad = (i: number) => String(i).padStart(5, '0');
    this.shardFiles = plan.map((_, i) => (n === 1 ? `${prefix}.safetensors` : `${prefix}-${pad(i + 1)}-of-${pad(n)}.safetensors`));
    this.totalSize = specs.reduce((a, s) => a + tensorBytes(s), 0);
    try {
      plan.forEach((group, i) => {
        const w = SafetensorsWriter.create(path.join(this.dir, this.shardFiles[i]), group, opts.metadata ?? { format: 'pt' });
        this.writers.push(w);
        for (const s of group) {
          this.byName.set(s.name, w);
          this.weightMap[s.name] = this.shardFiles[i];
        }
      });
    } catch (e) {
      this.abort();
      throw e;
    }
  }

  private writer(name: string): SafetensorsWriter {
    const w = this.byName.get(name);
    if (!w) throw new SilError('TENSOR_NOT_FOUND', 'tensor was not declared when the writer was created', { file: this.dir, tensor: name });
    return w;
  }

  /** See {@link SafetensorsWriter.write}. */
  write(name: string, data: TensorData): void {
    this.writer(name).write(name, data);
  }

  /** See {@link SafetensorsWriter.writeAt}. */
  writeAt(name: string, start: number, data: TensorData): number {
    return this.writer(name).writeAt(name, start, data);
  }

  /** Closes every shard (checking completeness) and writes the index when there are several. */
  close(): void {
    if (this.done) return;
    const renamed: string[] = [];
    try {
      for (const w of this.writers) {
        w.close();
        renamed.push(w.file);
      }
      if (this.writers.length > 1) {
        const index = { metadata: { total_size: this.totalSize }, weight_map: this.weightMap };
        const tmp = tmpSibling(path.join(this.dir, INDEX_FILE));
        try {
          fs.writeFileSync(tmp, JSON.stringify(index, null, 2) + '\n');
          fs.renameSync(tmp, path.join(this.dir, INDEX_FILE));
        } finally {
          fs.rmSync(tmp, { force: true });
          releaseTemp(tmp);
        }
      }
      this.done = true;
    } catch (e) {
      this.abort();
      for (const f of renamed) fs.rmSync(f, { force: true });
      throw e;
    }
  }

  /** Drops every shard's temporary file; nothing is renamed into place. */
  abort(): void {
    for (const w of this.writers) w.abort();
    this.done = true;
  }
}
