/**
 * Mask files: safetensors with one tensor per checkpoint tensor, same names, in the checkpoint's
 * order. Two encodings (docs/run-folder.md):
 * - U8: dtype U8, the tensor's own shape, values 0/1; `__metadata__ = {format: "pt"}` so
 *   `safetensors.torch.load_file` gives uint8 tensors ready for `mask.bool()`.
 * - bitpack: dtype U8, shape [⌈n/8⌉], `__metadata__ = {format: "bitpack", bitorder: "little",
 *   shape: JSON {name: [dims]}}` (see bitpack.ts).
 * Reading accepts both (and BOOL) and always hands back unpacked 0/1 U8 data; values other than
 * 0/1 are rejected with the file and tensor named. This is the mask format's only IO.
 */
import { SilError } from '../errors';
import { SafetensorsFile } from '../io/safetensors';
import { SafetensorsWriter, type TensorSpec } from '../io/writer';
import { type Bitorder, BITORDERS, packBits, packedLength, toLittleBitorder, unpackBits } from './bitpack';
import { checkBinary, type Mask, type MaskTensor, numelOf } from './mask';
import { firstNonBinary, unpackRange } from './words';

export type MaskEncoding = 'u8' | 'bitpack';

/** An open mask file: shapes from the header, tensors read (and unpacked) on demand. */
export class MaskFile {
  readonly encoding: MaskEncoding;
  /** bit order of a bitpacked file (`little` unless its metadata says `big`) */
  readonly bitorder: Bitorder;
  private readonly shapes = new Map<string, number[]>();

  private constructor(readonly file: SafetensorsFile) {
    const meta = file.metadata;
    this.encoding = meta.format === 'bitpack' ? 'bitpack' : 'u8';
    const order = meta.bitorder ?? 'little';
    if (this.encoding === 'bitpack' && !(BITORDERS as readonly string[]).includes(order)) {
      throw new SilError('MASK_MISMATCH', `bitpacked mask declares bitorder ${JSON.stringify(order)}; supported: ${BITORDERS.join(', ')}`, { file: file.path });
    }
    this.bitorder = order as Bitorder;
    let packedShapes: Record<string, number[]> = {};
    if (this.encoding === 'bitpack') {
      try {
        packedShapes = JSON.parse(meta.shape ?? 'null') as Record<string, number[]>;
        if (!packedShapes || typeof packedShapes !== 'object' || Array.isArray(packedShapes)) throw new Error('not an object');
      } catch (e) {
        throw new SilError('MASK_MISMATCH', `bitpacked mask without a readable __metadata__.shape (${(e as Error).message})`, { file: file.path });
      }
    }
    for (const [name, info] of file.tensors) {
      if (info.dtype !== 'U8' && info.dtype !== 'BOOL') {
        throw new SilError('MASK_MISMATCH', `mask tensors must be U8 or BOOL, found ${info.dtype}`, { file: file.path, tensor: name });
      }
      if (this.encoding === 'bitpack') {
        const shape = packedShapes[name];
        if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
          throw new SilError('MASK_MISMATCH', `bitpacked tensor has no shape (a list of non-negative integers) in __metadata__.shape, found ${JSON.stringify(shape ?? null)}`, {
            file: file.path,
            tensor: name,
          });
        }
        if (info.numel !== packedLength(numelOf(shape))) {
          throw new SilError('MASK_MISMATCH', `${info.numel} packed bytes cannot hold shape [${shape.join(', ')}]`, { file: file.path, tensor: name });
        }
        this.shapes.set(name, shape);
      } else {
        this.shapes.set(name, info.shape);
      }
    }
  }

  static open(path: string): MaskFile {
    return new MaskFile(SafetensorsFile.open(path));
  }

  get path(): string {
    return this.file.path;
  }

  names(): string[] {
    return [...this.shapes.keys()];
  }

  has(name: string): boolean {
    return this.shapes.has(name);
  }

  shape(name: string): number[] {
    const s = this.shapes.get(name);
    if (!s) throw new SilError('TENSOR_NOT_FOUND', 'the mask has no such tensor', { file: this.path, tensor: name });
    return s;
  }

  /** The tensor's 0/1 values, unpacked, checked. */
  read(name: string): Uint8Array {
    const shape = this.shape(name);
    const raw = this.file.readBytes(name);
    const data = this.encoding === 'bitpack' ? unpackBits(toLittleBitorder(raw, this.bitorder), numelOf(shape)) : raw;
    checkBinary({ name, shape, data }, this.path);
    return data;
  }

  /** Entries [start, end) of the tensor, unpacked, checked (for streaming large tensors). */
  readRange(name: string, start: number, end: number): Uint8Array {
    const shape = this.shape(name);
    const n = numelOf(shape);
    if (start < 0 || end > n || start > end) throw new SilError('INVALID_ARGUMENT', `entry range [${start}, ${end}) outside [0, ${n})`, { file: this.path, tensor: name });
    // unpacked bits are 0/1 by construction; stored bytes are checked
    if (this.encoding === 'bitpack') return unpackRange(toLittleBitorder(this.file.readBytes(name, start >>> 3, Math.ceil(end / 8)), this.bitorder), start, end - start);
    const data = this.file.readBytes(name, start, end);
    const bad = firstNonBinary(data);
    if (bad >= 0) throw new SilError('MASK_MISMATCH', `entry ${start + bad} is ${data[bad]}; a U8 mask holds only 0 and 1`, { file: this.path, tensor: name });
    return data;
  }

  readAll(): Mask {
    return { tensors: this.names().map((name) => ({ name, shape: this.shape(name), data: this.read(name) })) };
  }

  close(): void {
    this.file.close();
  }
}

export function readMask(path: string): Mask {
  const f = MaskFile.open(path);
  try {
    return f.readAll();
  } finally {
    f.close();
  }
}

/** Opens the mask files at `paths`, hands them to `f` and closes every one opened, however `f` ends. */
export function withMaskFiles<T>(paths: readonly string[], f: (files: MaskFile[]) => T): T {
  const files: MaskFile[] = [];
  try {
    for (const p of paths) files.push(MaskFile.open(p));
    return f(files);
  } finally {
    for (const m of files) m.close();
  }
}

/** Streams a mask file: declare every tensor's name and shape, then `write` each tensor's 0/1 data once. */
export class MaskWriter {
  private readonly w: SafetensorsWriter;
  private readonly shapes = new Map<string, number[]>();

  constructor(
    path: string,
    tensors: ReadonlyArray<{ name: string; shape: number[] }>,
    readonly encoding: MaskEncoding = 'u8',
    metadata: Record<string, string> = {},
  ) {
    const specs: TensorSpec[] = tensors.map(({ name, shape }) => ({ name, dtype: 'U8', shape: encoding === 'bitpack' ? [packedLength(numelOf(shape))] : [...shape] }));
    for (const t of tensors) this.shapes.set(t.name, [...t.shape]);
    const meta: Record<string, string> =
      encoding === 'bitpack' ? { ...metadata, format: 'bitpack', bitorder: 'little', shape: JSON.stringify(Object.fromEntries(this.shapes)) } : { ...metadata, format: 'pt' };
    this.w = SafetensorsWriter.create(path, specs, meta);
  }

  write(name: string, data: Uint8Array): void {
    const shape = this.shapes.get(name);
    if (!shape) throw new SilError('TENSOR_NOT_FOUND', 'tensor was not declared for this mask', { file: this.w.file, tensor: name });
    if (data.length !== numelOf(shape)) {
      throw new SilError('MASK_MISMATCH', `${data.length} mask entries for shape [${shape.join(', ')}]`, { file: this.w.file, tensor: name });
    }
    checkBinary({ name, shape, data }, this.w.file);
    this.w.write(name, this.encoding === 'bitpack' ? packBits(data) : data);
  }

  close(): void {
    this.w.close();
  }

  abort(): void {
    this.w.abort();
  }
}

export function writeMask(path: string, mask: Mask, encoding: MaskEncoding = 'u8', metadata: Record<string, string> = {}): void {
  const w = new MaskWriter(path, mask.tensors, encoding, metadata);
  try {
    for (const t of mask.tensors) w.write(t.name, t.data);
    w.close();
  } catch (e) {
    w.abort();
    throw e;
  }
}

export type { MaskTensor };
