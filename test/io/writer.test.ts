import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HF_TINY } from '../helpers/fixtures';
import { SafetensorsFile } from '../../src/io/safetensors';
import { Checkpoint } from '../../src/io/checkpoint';
import { SafetensorsWriter, ShardedWriter, parseSize, planShards, writeSafetensors } from '../../src/io/writer';
import { SilError } from '../../src/errors';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-writer-'));
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('SafetensorsWriter', () => {
  it('rewrites a Hugging Face file byte for byte from its tensors, in its order, with its metadata', () => {
    const src = path.join(HF_TINY, 'llama3-tiny-bf16/base/model.safetensors');
    const f = SafetensorsFile.open(src);
    const infos = [...f.tensors.values()].sort((a, b) => a.byteStart - b.byteStart);
    const out = path.join(tmp, 'copy.safetensors');
    const w = SafetensorsWriter.create(
      out,
      infos.map(({ name, dtype, shape }) => ({ name, dtype, shape })),
      f.metadata,
    );
    for (const t of infos) w.write(t.name, f.readF32(t.name)); // decoded to f32 and encoded back to bf16
    w.close();
    f.close();
    expect(Buffer.compare(fs.readFileSync(out), fs.readFileSync(src))).toBe(0);
  });

  it('pads the header with spaces to a multiple of 8 bytes and keeps __metadata__', () => {
    const out = path.join(tmp, 'a.safetensors');
    writeSafetensors(out, [{ name: 'x', dtype: 'F32', shape: [3], data: new Float32Array([1, -2, 3.5]) }], { format: 'pt', note: 'abc' });
    const bytes = fs.readFileSync(out);
    const n = Number(bytes.readBigUInt64LE(0));
    expect((8 + n) % 8).toBe(0);
    expect(bytes.subarray(8, 8 + n).toString('utf8')).toMatch(/^\{"__metadata__":\{"format":"pt","note":"abc"\}.*\} *$/);
    const f = SafetensorsFile.open(out);
    expect(f.metadata).toEqual({ format: 'pt', note: 'abc' });
    expect(Array.from(f.readF32('x'))).toEqual([1, -2, 3.5]);
    f.close();
  });

  it('round-trips every dtype: floats encoded from Float32Array, integers and BOOL raw', () => {
    const out = path.join(tmp, 'all.safetensors');
    const vals = new Float32Array([0, 1.5, -2.25, 1e-3, 65504, -0.0078125]);
    writeSafetensors(out, [
      { name: 'f32', dtype: 'F32', shape: [2, 3], data: vals },
      { name: 'f16', dtype: 'F16', shape: [6], data: vals },
      { name: 'bf16', dtype: 'BF16', shape: [3, 2], data: vals },
      { name: 'f64', dtype: 'F64', shape: [2], data: new Float64Array([Math.PI, -1e300]) },
      { name: 'u8', dtype: 'U8', shape: [4], data: new Uint8Array([0, 1, 254, 255]) },
      { name: 'bool', dtype: 'BOOL', shape: [2, 2], data: new Uint8Array([1, 0, 0, 1]) },
      { name: 'i8', dtype: 'I8', shape: [2], data: new Int8Array([-128, 127]) },
      { name: 'i16', dtype: 'I16', shape: [2], data: new Int16Array([-32768, 7]) },
      { name: 'i32', dtype: 'I32', shape: [2], data: new Int32Array([-5, 2 ** 31 - 1]) },
      { name: 'i64', dtype: 'I64', shape: [2], data: new BigInt64Array([-(2n ** 62n), 9n]) },
    ]);
    const f = SafetensorsFile.open(out);
    expect(Array.from(f.readF32('f32'))).toEqual(Array.from(vals));
    expect(Array.from(f.readF32('f16'))).toEqual([0, 1.5, -2.25, 0.0010004043579101562, 65504, -0.0078125]);
    expect(Array.from(f.readF32('bf16'))).toEqual([0, 1.5, -2.25, 0.00099945068359375, 65536, -0.0078125]);
    expect(Array.from(f.readRaw('f64') as Float64Array)).toEqual([Math.PI, -1e300]);
    expect(Array.from(f.readRaw('u8') as Uint8Array)).toEqual([0, 1, 254, 255]);
    expect(f.info('bool')).toMatchObject({ dtype: 'BOOL', shape: [2, 2] });
    expect(Array.from(f.readRaw('bool') as Uint8Array)).toEqual([1, 0, 0, 1]);
    expect(Array.from(f.readRaw('i8') as Int8Array)).toEqual([-128, 127]);
    expect(Array.from(f.readRaw('i16') as Int16Array)).toEqual([-32768, 7]);
    expect(Array.from(f.readRaw('i32') as Int32Array)).toEqual([-5, 2 ** 31 - 1]);
    expect(Array.from(f.readRaw('i64') as BigInt64Array)).toEqual([-(2n ** 62n), 9n]);
    f.close();
  });

  it('streams a tensor in element ranges, in any order', () => {
    const out = path.join(tmp, 's.safetensors');
    const w = SafetensorsWriter.create(out, [
      { name: 'a', dtype: 'F32', shape: [10] },
      { name: 'b', dtype: 'U8', shape: [3] },
    ]);
    w.writeAt('a', 6, new Float32Array([6, 7, 8, 9]));
    w.write('b', new Uint8Array([1, 2, 3]));
    w.write('a', new Float32Array([0, 1, 2]));
    w.write('a', new Float32Array([3, 4, 5]));
    expect(fs.existsSync(out)).toBe(false);
    w.close();
    const f = SafetensorsFile.open(out);
    expect(Array.from(f.readF32('a'))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    f.close();
  });

  it('leaves no file behind when a declared tensor was not fully written', () => {
    const out = path.join(tmp, 'half.safetensors');
    const w = SafetensorsWriter.create(out, [{ name: 'a', dtype: 'F32', shape: [4] }]);
    w.write('a', new Float32Array([1, 2]));
    expect(() => w.close()).toThrow(expect.objectContaining({ code: 'INVALID_DATA', tensor: 'a' }));
    expect(fs.readdirSync(tmp)).toEqual([]);
  });

  it('rejects data past the declared shape and undeclared tensors with typed errors', () => {
    const w = SafetensorsWriter.create(path.join(tmp, 'x.safetensors'), [{ name: 'a', dtype: 'BF16', shape: [2] }]);
    expect(() => w.write('a', new Float32Array(3))).toThrow(SilError);
    expect(() => w.write('nope', new Float32Array(1))).toThrow(expect.objectContaining({ code: 'TENSOR_NOT_FOUND' }));
    w.abort();
    expect(fs.readdirSync(tmp)).toEqual([]);
  });
});

describe('ShardedWriter', () => {
  it('reads sizes the way Hugging Face does (GB decimal, GiB binary)', () => {
    expect(parseSize('5GB')).toBe(5e9);
    expect(parseSize('2GiB')).toBe(2 ** 31);
    // a fraction of a byte is no size; with a unit a fraction is fine
    expect(() => parseSize('1.5')).toThrow(/size "1\.5": a byte count is a whole number/);
    expect(() => parseSize('1.5B')).toThrow(/a byte count is a whole number/);
    expect(parseSize('1.5KB')).toBe(1500);
    expect(parseSize('100000')).toBe(100000);
    expect(parseSize('500')).toBe(500);
    expect(() => parseSize('lots')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('gives a tensor larger than the limit a shard of its own', () => {
    const specs = [
      { name: 'a', dtype: 'F32' as const, shape: [10] },
      { name: 'b', dtype: 'F32' as const, shape: [100] },
      { name: 'c', dtype: 'F32' as const, shape: [5] },
      { name: 'd', dtype: 'F32' as const, shape: [5] },
    ];
    expect(planShards(specs, 100).map((g) => g.map((s) => s.name))).toEqual([['a'], ['b'], ['c', 'd']]);
  });

  it('writes shards and an index that the checkpoint reader opens by tensor name', () => {
    const dir = path.join(tmp, 'ck');
    const specs = Array.from({ length: 5 }, (_, i) => ({ name: `model.layers.${i}.mlp.up_proj.weight`, dtype: 'F32' as const, shape: [8, 4] }));
    const w = new ShardedWriter(dir, specs, { maxShardSize: 300 });
    specs.forEach((s, i) => w.write(s.name, new Float32Array(32).fill(i + 0.5)));
    w.close();
    expect(fs.readdirSync(dir).sort()).toEqual(['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors', 'model.safetensors.index.json']);
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'model.safetensors.index.json'), 'utf8'));
    expect(index.metadata.total_size).toBe(5 * 128);
    expect(index.weight_map['model.layers.4.mlp.up_proj.weight']).toBe('model-00003-of-00003.safetensors');
    const ck = Checkpoint.open(dir);
    expect(ck.names()).toEqual(specs.map((s) => s.name));
    expect(ck.readF32('model.layers.3.mlp.up_proj.weight')[31]).toBe(3.5);
    ck.close();
  });

  it('writes a single model.safetensors without an index when everything fits', () => {
    const dir = path.join(tmp, 'one');
    const w = new ShardedWriter(dir, [{ name: 'a', dtype: 'U8', shape: [4] }]);
    w.write('a', new Uint8Array([1, 0, 1, 1]));
    w.close();
    expect(fs.readdirSync(dir)).toEqual(['model.safetensors']);
  });

  it('leaves no shard behind when closing fails', () => {
    const dir = path.join(tmp, 'bad');
    const specs = [
      { name: 'a', dtype: 'F32' as const, shape: [4] },
      { name: 'b', dtype: 'F32' as const, shape: [4] },
    ];
    const w = new ShardedWriter(dir, specs, { maxShardSize: 16 });
    w.write('a', new Float32Array(4));
    expect(() => w.close()).toThrow(expect.objectContaining({ code: 'INVALID_DATA', tensor: 'b' }));
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe('sums built in the file', () => {
  it('adds ranges in place, reads them back, and fills the counts into space reserved in the header', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-sum-'));
    const file = path.join(dir, 's.safetensors');
    const w = SafetensorsWriter.create(
      file,
      [
        { name: 'a', dtype: 'F32', shape: [2, 3] },
        { name: 'b', dtype: 'F32', shape: [4] },
      ],
      { n: '0'.repeat(16) },
    );
    w.addAt('a', 0, Float32Array.from([1, 2, 3, 4, 5, 6]));
    w.addAt('a', 3, Float32Array.from([10, 10, 10]));
    w.addAt('b', 1, Float32Array.from([0.5, 0.25])); // elements never added to stay 0
    expect([...w.readAt('a', 2, 3)]).toEqual([3, 14, 15]);
    expect(() => w.setMetadata({ n: '1'.repeat(200) })).toThrow(/reserved/);
    w.setMetadata({ n: '7' });
    w.close();
    const f = SafetensorsFile.open(file);
    try {
      expect(f.metadata).toEqual({ n: '7' });
      expect([...f.readF32('a')]).toEqual([1, 2, 3, 14, 15, 16]);
      expect([...f.readF32('b')]).toEqual([0, 0.5, 0.25, 0]);
    } finally {
      f.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
