/**
 * The safetensors format, read lazily: an 8-byte little-endian header length n, n bytes of JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {str: str}}`, then the data
 * buffer; offsets are relative to byte 8 + n. Opening a file reads and validates the header only;
 * tensors (or contiguous element ranges of them) are read on demand by file offset, so a shard is
 * never held in memory and tensors past 2 GiB / files past 4 GiB work.
 */
import * as fs from 'node:fs';
import { SilError } from '../errors';
import { DTYPE_BYTES, type Dtype, type RawArray, decodeFloat, isDtype, viewRaw } from './dtype';

export const MAX_HEADER_BYTES = 100 * 1024 * 1024;
/** `fs.readSync` moves at most 2 GiB per call; larger reads are split. */
const MAX_READ = 1 << 30;

export interface TensorInfo {
  name: string;
  dtype: Dtype;
  shape: number[];
  numel: number;
  /** the file that holds it */
  file: string;
  /** absolute byte offsets in `file` */
  byteStart: number;
  byteEnd: number;
}

export interface SafetensorsHeader {
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
  headerBytes: number;
  /** the raw header bytes (for hashing in manifests) */
  rawHeader: Buffer;
}

function readExactly(fd: number, file: string, buf: Uint8Array, position: number): void {
  let done = 0;
  while (done < buf.length) {
    const want = Math.min(MAX_READ, buf.length - done);
    const got = fs.readSync(fd, buf, done, want, position + done);
    if (got === 0) {
      throw new SilError('TRUNCATED', `unexpected end of file at byte ${position + done}, wanted ${buf.length - done} more`, { file });
    }
    done += got;
  }
}

function product(shape: number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Parses and validates a safetensors header from an open descriptor. */
export function parseHeader(fd: number, file: string, fileSize: number): SafetensorsHeader {
  if (fileSize < 8) throw new SilError('HEADER_TOO_SMALL', `file is ${fileSize} bytes, shorter than the 8-byte header length`, { file });
  const lenBuf = Buffer.alloc(8);
  readExactly(fd, file, lenBuf, 0);
  const n64 = lenBuf.readBigUInt64LE(0);
  if (n64 > BigInt(MAX_HEADER_BYTES)) {
    throw new SilError('HEADER_TOO_LARGE', `header length ${n64} exceeds the ${MAX_HEADER_BYTES}-byte limit`, { file });
  }
  const n = Number(n64);
  if (8 + n > fileSize) {
    throw new SilError('HEADER_LENGTH_BEYOND_FILE', `header length ${n} runs past the end of the ${fileSize}-byte file`, { file });
  }
  if (n < 2) throw new SilError('HEADER_TOO_SMALL', `header length ${n} cannot hold a JSON object`, { file });
  const raw = Buffer.alloc(n);
  readExactly(fd, file, raw, 8);
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw new SilError('HEADER_NOT_JSON', `header is not valid JSON: ${(e as Error).message}`, { file });
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new SilError('INVALID_HEADER', 'header JSON is not an object', { file });
  }
  const dataStart = 8 + n;
  const bufferLen = fileSize - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  const spans: Array<[number, number, string]> = [];
  for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (entry !== null && typeof entry === 'object') metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!e || typeof e !== 'object') throw new SilError('INVALID_HEADER', 'entry is not an object', { file, tensor: name });
    if (typeof e.dtype !== 'string' || !isDtype(e.dtype)) {
      throw new SilError('UNKNOWN_DTYPE', `unknown dtype ${JSON.stringify(e.dtype)}; expected one of ${Object.keys(DTYPE_BYTES).join(', ')}`, { file, tensor: name });
    }
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SilError('INVALID_HEADER', `shape ${JSON.stringify(e.shape)} is not a list of non-negative integers`, { file, tensor: name });
    }
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[1] < off[0]) {
      throw new SilError('INVALID_OFFSET', `data_offsets ${JSON.stringify(off)} are not [begin, end] with begin <= end`, { file, tensor: name });
    }
    const shape = e.shape as number[];
    const numel = product(shape);
    const expected = numel * DTYPE_BYTES[e.dtype];
    if (off[1] - off[0] !== expected) {
      throw new SilError('SHAPE_SIZE_MISMATCH', `${e.dtype}×[${shape.join(', ')}] needs ${expected} bytes but data_offsets span ${off[1] - off[0]}`, { file, tensor: name });
    }
    if (off[1] > bufferLen) {
      throw new SilError('TRUNCATED', `data_offsets end ${off[1]} runs past the ${bufferLen}-byte data buffer (file truncated?)`, { file, tensor: name });
    }
    spans.push([off[0], off[1], name]);
    tensors.set(name, { name, dtype: e.dtype, shape: [...shape], numel, file, byteStart: dataStart + off[0], byteEnd: dataStart + off[1] });
  }
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let pos = 0;
  for (const [s, e, name] of spans) {
    if (s < pos) throw new SilError('OVERLAPPING_TENSORS', `data_offsets [${s}, ${e}] overlap the previous tensor, which ends at ${pos}`, { file, tensor: name });
    if (s > pos) throw new SilError('HOLE_IN_BUFFER', `data_offsets begin at ${s}, leaving a hole after byte ${pos}`, { file, tensor: name });
    pos = e;
  }
  if (pos !== bufferLen) {
    throw new SilError('HOLE_IN_BUFFER', `tensors cover ${pos} bytes of a ${bufferLen}-byte data buffer`, { file });
  }
  return { tensors, metadata, headerBytes: n, rawHeader: raw };
}

/** One open .safetensors file: header parsed, data read by offset on demand. */
export class SafetensorsFile {
  readonly path: string;
  readonly header: SafetensorsHeader;
  readonly size: number;
  private fd: number;

  private constructor(path: string, fd: number, size: number, header: SafetensorsHeader) {
    this.path = path;
    this.fd = fd;
    this.size = size;
    this.header = header;
  }

  static open(path: string): SafetensorsFile {
    let fd: number;
    try {
      fd = fs.openSync(path, 'r');
    } catch (e) {
      throw new SilError('FILE_NOT_FOUND', `cannot open: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file: path });
    }
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) throw new SilError('NOT_A_FILE', `a safetensors file is expected, found ${st.isDirectory() ? 'a folder' : 'a device or special file'}`, { file: path });
      const size = st.size;
      return new SafetensorsFile(path, fd, size, parseHeader(fd, path, size));
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  get tensors(): Map<string, TensorInfo> {
    return this.header.tensors;
  }

  get metadata(): Record<string, string> {
    return this.header.metadata;
  }

  info(name: string): TensorInfo {
    const t = this.header.tensors.get(name);
    if (!t) throw new SilError('TENSOR_NOT_FOUND', 'no such tensor', { file: this.path, tensor: name });
    return t;
  }

  /** Raw bytes of elements [start, end) of a tensor, read by file offset. */
  readBytes(name: string, start = 0, end?: number, into?: Uint8Array): Uint8Array {
    const t = this.info(name);
    const stop = end ?? t.numel;
    if (start < 0 || stop > t.numel || start > stop) {
      throw new SilError('INVALID_ARGUMENT', `element range [${start}, ${stop}) outside [0, ${t.numel})`, { file: this.path, tensor: name });
    }
    const w = DTYPE_BYTES[t.dtype];
    const len = (stop - start) * w;
    const buf = into ? into.subarray(0, len) : new Uint8Array(len);
    readExactly(this.fd, this.path, buf, t.byteStart + start * w);
    return buf;
  }

  /** Elements [start, end) as the dtype's own typed array (BF16/F16 as raw Uint16Array). */
  readRaw(name: string, start = 0, end?: number): RawArray {
    return viewRaw(this.info(name).dtype, this.readBytes(name, start, end));
  }

  /** Elements [start, end) decoded to float32. */
  readF32(name: string, start = 0, end?: number, out?: Float32Array): Float32Array {
    return decodeFloat(this.info(name).dtype, this.readBytes(name, start, end), out);
  }

  /** `into.length` raw bytes at absolute file offset `position`. */
  readAt(position: number, into: Uint8Array): Uint8Array {
    readExactly(this.fd, this.path, into, position);
    return into;
  }

  close(): void {
    if (this.fd >= 0) {
      fs.closeSync(this.fd);
      this.fd = -1;
    }
  }
}
