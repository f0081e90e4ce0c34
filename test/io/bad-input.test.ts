import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HF_TINY } from '../helpers/fixtures';
import { SafetensorsFile, MAX_HEADER_BYTES } from '../../src/io/safetensors';
import { Checkpoint } from '../../src/io/checkpoint';
import { writeSafetensors, ShardedWriter } from '../../src/io/writer';
import { checkComparable, computeDelta } from '../../src/delta/compute';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-bad-'));
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A safetensors file from a header (object or raw text), a data length, and an optional header-length override. */
function rawFile(name: string, header: object | string, dataBytes: number, lengthField?: bigint): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthField ?? BigInt(json.length));
  const file = path.join(tmp, name);
  fs.writeFileSync(file, Buffer.concat([len, json, Buffer.alloc(dataBytes)]));
  return file;
}

const t = (dtype: string, shape: number[], b: number, e: number) => ({ dtype, shape, data_offsets: [b, e] });

function expectSilError(fn: () => unknown, code: string, where: { file?: string; tensor?: string } = {}): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toMatchObject({ name: 'SilError', code, ...where });
  if (where.file) expect((err as Error).message).toContain(where.file);
  if (where.tensor) expect((err as Error).message).toContain(where.tensor);
}

describe('reading malformed safetensors files', () => {
  it('rejects a file shorter than the 8-byte length field', () => {
    const f = path.join(tmp, 'tiny.safetensors');
    fs.writeFileSync(f, Buffer.from([1, 2, 3]));
    expectSilError(() => SafetensorsFile.open(f), 'HEADER_TOO_SMALL', { file: f });
  });

  it('rejects a truncated file, naming the tensor whose data is cut off', () => {
    const f = path.join(tmp, 'cut.safetensors');
    writeSafetensors(f, [
      { name: 'a', dtype: 'F32', shape: [4], data: new Float32Array(4) },
      { name: 'b', dtype: 'F32', shape: [4], data: new Float32Array(4) },
    ]);
    fs.truncateSync(f, fs.statSync(f).size - 3);
    expectSilError(() => SafetensorsFile.open(f), 'TRUNCATED', { file: f, tensor: 'b' });
  });

  it('rejects a header length that runs past the end of the file', () => {
    const f = rawFile('long.safetensors', { a: t('F32', [1], 0, 4) }, 4, 10_000n);
    expectSilError(() => SafetensorsFile.open(f), 'HEADER_LENGTH_BEYOND_FILE', { file: f });
  });

  it('rejects a header over 100 MB before reading it', () => {
    const f = rawFile('huge.safetensors', '{}', 0, BigInt(MAX_HEADER_BYTES) + 1n);
    expectSilError(() => SafetensorsFile.open(f), 'HEADER_TOO_LARGE', { file: f });
    const g = rawFile('huge64.safetensors', '{}', 0, 2n ** 63n);
    expectSilError(() => SafetensorsFile.open(g), 'HEADER_TOO_LARGE', { file: g });
  });

  it('rejects a header that is not JSON, or JSON that is not an object', () => {
    const f = rawFile('nojson.safetensors', '{"a": {"dtype": "F32",', 0);
    expectSilError(() => SafetensorsFile.open(f), 'HEADER_NOT_JSON', { file: f });
    const g = rawFile('array.safetensors', '[1, 2, 3]', 0);
    expectSilError(() => SafetensorsFile.open(g), 'INVALID_HEADER', { file: g });
  });

  it('rejects overlapping tensors', () => {
    const f = rawFile('overlap.safetensors', { a: t('F32', [2], 0, 8), b: t('F32', [2], 4, 12) }, 12);
    expectSilError(() => SafetensorsFile.open(f), 'OVERLAPPING_TENSORS', { file: f, tensor: 'b' });
  });

  it('rejects holes between tensors and unclaimed bytes at the end of the buffer', () => {
    const f = rawFile('hole.safetensors', { a: t('F32', [1], 0, 4), b: t('F32', [1], 8, 12) }, 12);
    expectSilError(() => SafetensorsFile.open(f), 'HOLE_IN_BUFFER', { file: f, tensor: 'b' });
    const g = rawFile('tail.safetensors', { a: t('F32', [1], 0, 4) }, 10);
    expectSilError(() => SafetensorsFile.open(g), 'HOLE_IN_BUFFER', { file: g });
  });

  it('rejects offsets past the end of the data buffer', () => {
    const f = rawFile('past.safetensors', { a: t('F32', [1], 0, 4), b: t('F32', [1], 4, 8) }, 4);
    expectSilError(() => SafetensorsFile.open(f), 'TRUNCATED', { file: f, tensor: 'b' });
  });

  it('rejects offsets that are negative, fractional, reversed or not a pair', () => {
    for (const off of [[-4, 0], [0, 3.5], [8, 4], [0], 'x']) {
      const f = rawFile(`off${JSON.stringify(off).replace(/\W/g, '_')}.safetensors`, { a: { dtype: 'U8', shape: [4], data_offsets: off } }, 4);
      expectSilError(() => SafetensorsFile.open(f), 'INVALID_OFFSET', { file: f, tensor: 'a' });
    }
  });

  it('rejects a byte range that does not equal dtype size × number of elements', () => {
    const f = rawFile('size.safetensors', { w: t('BF16', [3, 4], 0, 20) }, 20);
    expectSilError(() => SafetensorsFile.open(f), 'SHAPE_SIZE_MISMATCH', { file: f, tensor: 'w' });
  });

  it('rejects an unknown dtype and a malformed shape', () => {
    const f = rawFile('dtype.safetensors', { w: t('F8_E4M3', [4], 0, 4) }, 4);
    expectSilError(() => SafetensorsFile.open(f), 'UNKNOWN_DTYPE', { file: f, tensor: 'w' });
    const g = rawFile('shape.safetensors', { w: t('U8', [-4], 0, 4) }, 4);
    expectSilError(() => SafetensorsFile.open(g), 'INVALID_HEADER', { file: g, tensor: 'w' });
  });

  it('reads tensors stored past 4 GiB in a (sparse) file by 64-bit offsets', () => {
    const f = path.join(tmp, 'big.safetensors');
    const numel = 2 ** 31 + 8; // BF16: 4 GiB + 16 bytes, past the 32-bit offset range
    const header = Buffer.from(JSON.stringify({ small: t('F32', [2], 0, 8), big: t('BF16', [numel], 8, 8 + 2 * numel) }).padEnd(128));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    const fd = fs.openSync(f, 'w');
    fs.writeSync(fd, Buffer.concat([len, header, Buffer.from(new Float32Array([1.5, -2]).buffer)]));
    const dataStart = 8 + header.length;
    const tail = new Uint16Array([0x3f80, 0x4000, 0xc040, 0x3f00, 0, 0, 0, 0x7f80]); // 1, 2, -3, 0.5, 0, 0, 0, +Inf
    fs.writeSync(fd, Buffer.from(tail.buffer), 0, 16, dataStart + 8 + 2 * (numel - 8));
    fs.closeSync(fd);
    expect(fs.statSync(f).size).toBe(dataStart + 8 + 2 * numel);
    const st = SafetensorsFile.open(f);
    expect(st.info('big').byteEnd).toBeGreaterThan(2 ** 32);
    expect(Array.from(st.readF32('big', numel - 8, numel))).toEqual([1, 2, -3, 0.5, 0, 0, 0, Infinity]);
    expect(Array.from(st.readF32('big', 2 ** 31 - 2, 2 ** 31 + 2))).toEqual([0, 0, 1, 2]);
    expect(Array.from(st.readF32('small'))).toEqual([1.5, -2]);
    st.close();
  });
});

describe('opening malformed checkpoint folders', () => {
  function shardedCopy(dir: string): void {
    const w = new ShardedWriter(
      dir,
      [
        { name: 'model.norm.weight', dtype: 'F32', shape: [8] },
        { name: 'model.embed_tokens.weight', dtype: 'F32', shape: [4, 8] },
      ],
      { maxShardSize: 40 },
    );
    w.write('model.norm.weight', new Float32Array(8).fill(1));
    w.write('model.embed_tokens.weight', new Float32Array(32).fill(0.5));
    w.close();
  }

  it('rejects a shard listed in the index but missing from the folder', () => {
    const dir = path.join(tmp, 'ck');
    shardedCopy(dir);
    const missing = path.join(dir, 'model-00002-of-00002.safetensors');
    fs.rmSync(missing);
    expectSilError(() => Checkpoint.open(dir), 'MISSING_SHARD', { file: missing });
  });

  it('rejects an index whose shard names leave the folder', () => {
    const dir = path.join(tmp, 'ck');
    shardedCopy(dir);
    const idx = path.join(dir, 'model.safetensors.index.json');
    const index = JSON.parse(fs.readFileSync(idx, 'utf8'));
    index.weight_map['model.norm.weight'] = '../model-00001-of-00002.safetensors';
    fs.writeFileSync(idx, JSON.stringify(index));
    expectSilError(() => Checkpoint.open(dir), 'INVALID_INDEX', { file: idx, tensor: 'model.norm.weight' });
  });

  it('rejects an index that maps a tensor to a shard that does not hold it', () => {
    const dir = path.join(tmp, 'ck');
    shardedCopy(dir);
    const idx = path.join(dir, 'model.safetensors.index.json');
    const index = JSON.parse(fs.readFileSync(idx, 'utf8'));
    index.weight_map['model.norm.weight'] = 'model-00002-of-00002.safetensors';
    fs.writeFileSync(idx, JSON.stringify(index));
    expectSilError(() => Checkpoint.open(dir), 'INVALID_INDEX', { tensor: 'model.norm.weight' });
  });
});

describe('comparing base and attacked checkpoints', () => {
  const llama = path.join(HF_TINY, 'llama3-tiny-bf16/base');

  /** A copy of the Llama fixture's base with `edit` applied to its tensors and/or config. */
  function variant(name: string, edit: { rename?: [string, string]; reshape?: string; dtype?: string; architecture?: string; nan?: string }): string {
    const src = Checkpoint.open(llama);
    const dir = path.join(tmp, name);
    const config = { ...src.config, ...(edit.architecture ? { architectures: [edit.architecture] } : {}) };
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
    const tensors = src.names().map((n) => {
      const info = src.info(n);
      let data = src.readF32(n);
      let shape = [...info.shape];
      let dtype = info.dtype as 'BF16' | 'F32';
      if (edit.reshape === n) shape = [shape.reduce((a, b) => a * b)];
      if (edit.dtype === n) dtype = 'F32';
      if (edit.nan === n) {
        data = Float32Array.from(data);
        data[0] = NaN;
        data[1] = Infinity;
        data[2] = -Infinity;
      }
      return { name: edit.rename?.[0] === n ? edit.rename[1] : n, dtype, shape, data };
    });
    writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
    src.close();
    return dir;
  }

  const cases: Array<[string, Parameters<typeof variant>[1], string]> = [
    ['tensor names', { rename: ['model.norm.weight', 'model.final_norm.weight'] }, 'model.norm.weight'],
    ['shapes', { reshape: 'model.layers.1.self_attn.o_proj.weight' }, 'model.layers.1.self_attn.o_proj.weight'],
    ['dtypes', { dtype: 'model.layers.0.mlp.up_proj.weight' }, 'model.layers.0.mlp.up_proj.weight'],
  ];
  it.each(cases)('refuses checkpoints whose %s differ, naming the tensor', (_what, edit, tensor) => {
    const base = Checkpoint.open(llama);
    const attacked = Checkpoint.open(variant('v', edit));
    expectSilError(() => checkComparable(base, attacked), 'CHECKPOINT_MISMATCH', { tensor });
    base.close();
    attacked.close();
  });

  it('refuses checkpoints of different architectures', () => {
    const base = Checkpoint.open(llama);
    const attacked = Checkpoint.open(variant('arch', { architecture: 'MistralForCausalLM' }));
    expectSilError(() => checkComparable(base, attacked), 'CHECKPOINT_MISMATCH', { file: attacked.location });
    base.close();
    attacked.close();
  });

  it('counts NaN and Inf weights in the statistics instead of failing', async () => {
    const bad = 'model.layers.0.mlp.down_proj.weight';
    const base = Checkpoint.open(llama);
    const attacked = Checkpoint.open(variant('nan', { nan: bad }));
    const r = await computeDelta(base, attacked, { threads: 0 });
    const row = r.tensors.find((x) => x.tensor === bad)!;
    expect(row).toMatchObject({ nan: 1, inf: 2, numel: 64 * 128 });
    expect(Number.isFinite(row.l2) && Number.isFinite(row.mean_abs)).toBe(true);
    expect(r.tensors.filter((x) => x.nan || x.inf).map((x) => x.tensor)).toEqual([bad]);
    base.close();
    attacked.close();
  });
});
