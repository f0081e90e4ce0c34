import * as fs from 'node:fs';
import * as path from 'node:path';
import { countPacked, packBits, unpackBits } from '../../src/mask/bitpack';
import { and, difference, intersectAll, not, or, unionAll, xor } from '../../src/mask/algebra';
import { overlapMetrics, PoolOverlap } from '../../src/mask/overlap';
import { evalMaskExpr, exprNames, parseMaskExpr, rewritePrefixBang } from '../../src/mask/expr';
import { RegionAccumulator, unitLayout } from '../../src/mask/regions';
import { LayerAccumulator } from '../../src/mask/layers';
import { MaskFile, readMask, writeMask } from '../../src/mask/maskfile';
import { checkSameLayout } from '../../src/mask/mask';
import { objectsToCsv } from '../../src/io/csv';
import { randomScore } from '../../src/score/random';
import { topKMasks } from '../../src/select/topk';
import { writeSafetensors } from '../../src/io/writer';
import { tmpDir } from '../score/tiny-pair';

const u8 = (xs: number[]) => Uint8Array.from(xs);

describe('bitpacking', () => {
  it('packs entry i into bit i mod 8 of byte i/8 and unpacks back, for lengths that are not multiples of 8', () => {
    expect([...packBits(u8([1, 0, 0, 0, 0, 0, 0, 1, 1, 1]))]).toEqual([0x81, 0x03]);
    for (const n of [0, 1, 7, 8, 9, 1001]) {
      const m = Uint8Array.from({ length: n }, (_, i) => ((i * 2654435761) >>> 28) & 1);
      const p = packBits(m);
      expect(p.length).toBe(Math.ceil(n / 8));
      expect(unpackBits(p, n)).toEqual(m);
      expect(countPacked(p, n)).toBe(m.reduce((a, b) => a + b, 0));
    }
  });
});

describe('set algebra', () => {
  const a = u8([1, 1, 0, 0]);
  const b = u8([1, 0, 1, 0]);
  it('computes ∩, ∪, ¬, difference and symmetric difference elementwise', () => {
    expect([...and(a, b)]).toEqual([1, 0, 0, 0]);
    expect([...or(a, b)]).toEqual([1, 1, 1, 0]);
    expect([...not(a)]).toEqual([0, 0, 1, 1]);
    expect([...difference(a, b)]).toEqual([0, 1, 0, 0]);
    expect([...xor(a, b)]).toEqual([0, 1, 1, 0]);
    expect([...intersectAll([a, b, u8([1, 1, 1, 1])])]).toEqual([1, 0, 0, 0]);
    expect([...unionAll([a, b])]).toEqual([1, 1, 1, 0]);
    expect(() => and(a, u8([1]))).toThrow(/4 and 1/);
  });
});

describe('overlap metrics', () => {
  it('SIR is |a∩b|/k, IoU |a∩b|/|a∪b|, mask cosine |a∩b|/√(|a||b|)', () => {
    const m = overlapMetrics({ a: 3, b: 3, inter: 1, union: 5 });
    expect(m.sir).toBeCloseTo(1 / 3, 12);
    expect(m.iou).toBeCloseTo(1 / 5, 12);
    expect(m.cosine).toBeCloseTo(1 / 3, 12);
    expect(overlapMetrics({ a: 0, b: 0, inter: 0, union: 0 })).toEqual({ sir: 0, iou: 0, cosine: 0 });
  });

  it('global SIR over a pool is |⋂ pool| / k', () => {
    const p = new PoolOverlap();
    p.add([u8([1, 1, 1, 0]), u8([1, 1, 0, 1]), u8([1, 0, 1, 1])]);
    expect(p.intersection).toBe(1);
    expect(p.sir()).toBeCloseTo(1 / 3, 12);
  });

  it('two seeded random top-k masks overlap with SIR close to k/N', () => {
    const n = 200000;
    const k = 40000;
    const a = topKMasks([randomScore(1, 'w', 0, new Float32Array(n))], k).masks[0];
    const b = topKMasks([randomScore(2, 'w', 0, new Float32Array(n))], k).masks[0];
    const p = new PoolOverlap();
    p.add([a, b]);
    // hypergeometric: sd of |a∩b| ≈ √(k·(k/N)(1−k/N)) ≈ 80 ⇒ SIR within ±0.01 of k/N = 0.2 is > 6 sd
    expect(Math.abs(p.sir() - k / n)).toBeLessThan(0.01);
  });
});

describe('mask expressions', () => {
  it('rewrites prefix ! to ~ and leaves != alone', () => {
    expect(rewritePrefixBang('en & it & !benign')).toBe('en & it & ~benign');
    expect(rewritePrefixBang('!(a | !b)')).toBe('~(a | ~b)');
    expect(rewritePrefixBang('a and !b')).toBe('a and ~b');
  });

  it('evaluates "en & it & !benign" as en ∩ it ∩ ¬benign, with and/or/not/-/xor spellings', () => {
    const masks: Record<string, Uint8Array> = { en: u8([1, 1, 1, 0]), it: u8([1, 1, 0, 1]), benign: u8([0, 1, 0, 0]) };
    const look = (n: string) => masks[n];
    const e = parseMaskExpr('en & it & !benign');
    expect(exprNames(e)).toEqual(['en', 'it', 'benign']);
    expect([...evalMaskExpr(e, look)]).toEqual([1, 0, 0, 0]);
    expect([...evalMaskExpr(parseMaskExpr('(en and it) - benign'), look)]).toEqual([1, 0, 0, 0]);
    expect([...evalMaskExpr(parseMaskExpr('en or not it'), look)]).toEqual([1, 1, 1, 0]);
    expect([...evalMaskExpr(parseMaskExpr('en xor it'), look)]).toEqual([0, 0, 1, 1]);
    expect([...masks.en]).toEqual([1, 1, 1, 0]);
  });

  it('rejects arithmetic that is not set algebra, and unparsable text', () => {
    expect(() => parseMaskExpr('en * 2')).toThrow(/not a mask operation|not allowed/);
    expect(() => parseMaskExpr('en & (')).toThrow(/cannot parse/);
  });
});

describe('regions and layers', () => {
  it('splits q into heads of head_dim rows, o into heads of head_dim columns, gate into neuron rows, down into neuron columns, norms whole', () => {
    expect(unitLayout({ rows: 'heads', cols: 'hidden' }, [8, 6], 4)).toEqual({ unit: 'head', axis: 'rows', span: 4, count: 2, size: 24 });
    expect(unitLayout({ rows: 'kv_heads', cols: 'hidden' }, [4, 6], 4)).toEqual({ unit: 'kv_head', axis: 'rows', span: 4, count: 1, size: 24 });
    expect(unitLayout({ rows: 'hidden', cols: 'heads' }, [6, 8], 4)).toEqual({ unit: 'head', axis: 'cols', span: 4, count: 2, size: 24 });
    expect(unitLayout({ rows: 'neurons', cols: 'hidden' }, [12, 6], 4)).toMatchObject({ unit: 'neuron', axis: 'rows', count: 12, size: 6 });
    expect(unitLayout({ rows: 'hidden', cols: 'neurons' }, [6, 12], 4)).toMatchObject({ unit: 'neuron', axis: 'cols', count: 12, size: 6 });
    expect(unitLayout({ rows: 'vocab', cols: 'hidden' }, [16, 6], 4)).toMatchObject({ unit: 'row', count: 16 });
    expect(unitLayout({ rows: 'hidden', cols: null }, [6], 4)).toMatchObject({ unit: 'tensor', count: 1, size: 6 });
  });

  it('adds score mass and selected share per unit from chunks at any offset', () => {
    const shape = [2, 4]; // o-like: 2 rows, 4 columns = 2 heads of 2 columns
    const acc = new RegionAccumulator(unitLayout({ rows: 'hidden', cols: 'heads' }, shape, 2), shape);
    const s = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const m = u8([1, 0, 0, 0, 1, 1, 0, 1]);
    acc.add(0, s.subarray(0, 3), m.subarray(0, 3));
    acc.add(3, s.subarray(3), m.subarray(3));
    expect([...acc.mass]).toEqual([1 + 2 + 5 + 6, 3 + 4 + 7 + 8]);
    expect([...acc.selected]).toEqual([3, 1]);
  });

  it('aggregates per layer × kind with score share and selected fraction, embeddings first and head last', () => {
    const acc = new LayerAccumulator();
    acc.add(null, 'lm_head', Float32Array.from([1]), u8([0]));
    acc.add(1, 'q', Float32Array.from([2, 2]), u8([1, 1]));
    acc.add(0, 'q', Float32Array.from([3, 1]), u8([1, 0]));
    acc.add(null, 'embed', Float32Array.from([1]), u8([1]));
    const rows = acc.rows('en', ['embed', 'q', 'lm_head']);
    expect(rows.map((r) => `${r.layer}:${r.kind}`)).toEqual(['null:embed', '0:q', '1:q', 'null:lm_head']);
    expect(rows[1]).toMatchObject({ numel: 2, score_mass: 4, score_share: 0.4, selected: 1, selected_fraction: 0.5 });
    expect(objectsToCsv(['layer', 'kind', 'score_share'], rows).split('\n')[1]).toBe(',embed,0.1');
  });
});

describe('mask files', () => {
  const dir = tmpDir('maskfile');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const mask = {
    tensors: [
      { name: 'a.weight', shape: [3, 5], data: Uint8Array.from({ length: 15 }, (_, i) => (i % 3 === 0 ? 1 : 0)) },
      { name: 'b', shape: [2], data: u8([0, 1]) },
    ],
  };

  it('writes U8 and bitpacked masks that read back to the same names, shapes and values', () => {
    for (const enc of ['u8', 'bitpack'] as const) {
      const f = path.join(dir, `${enc}.safetensors`);
      writeMask(f, mask, enc);
      const mf = MaskFile.open(f);
      expect(mf.encoding).toBe(enc);
      expect(mf.file.info('a.weight').shape).toEqual(enc === 'u8' ? [3, 5] : [2]);
      mf.close();
      expect(readMask(f)).toEqual(mask);
    }
  });

  it('rejects values other than 0/1 and float tensors, naming the file and tensor', () => {
    const f = path.join(dir, 'bad.safetensors');
    writeSafetensors(f, [{ name: 'x', dtype: 'U8', shape: [2], data: u8([0, 2]) }]);
    expect(() => readMask(f)).toThrow(/entry 1 is 2.*bad\.safetensors.*tensor x/);
    writeSafetensors(f, [{ name: 'x', dtype: 'F32', shape: [2], data: Float32Array.from([0, 1]) }]);
    expect(() => readMask(f)).toThrow(/U8 or BOOL, found F32/);
  });

  it('reports a tensor whose shape differs between two masks', () => {
    const other = { tensors: [{ ...mask.tensors[0], shape: [5, 3] }, mask.tensors[1]] };
    expect(() => checkSameLayout(mask, other, { b: 'm2.safetensors' })).toThrow(/shape \[5, 3\] differs.*m2\.safetensors.*a\.weight/);
  });
});
