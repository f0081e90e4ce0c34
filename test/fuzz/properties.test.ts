/**
 * Property-based fuzzing (fast-check) of every input `sil` parses: safetensors headers and bodies,
 * model.safetensors.index.json, config.json, calibration JSONL, mask metadata and run-folder files.
 * The property is the same everywhere: bad input ends in a SilError (one typed line at the CLI),
 * never another exception, and what is accepted satisfies the parser's own invariants.
 * About 11,000 cases in all. On failure fast-check prints the seed and path; re-run one with
 * `SIL_FUZZ_SEED=<seed> npx jest test/fuzz`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { SilError } from '../../src/errors';
import { SafetensorsFile } from '../../src/io/safetensors';
import { Checkpoint } from '../../src/io/checkpoint';
import { writeSafetensors } from '../../src/io/writer';
import { checkConfigShapes, parseModelConfig } from '../../src/model/config';
import { parseCalibrationJsonl } from '../../src/data/schema';
import { decodeTextInput } from '../../src/data/text';
import { MaskFile } from '../../src/mask/maskfile';
import { loadRun, validateManifest } from '../../src/report/run';
import { parseCsv } from '../../src/io/csv';
import { tmpDir } from '../score/tiny-pair';
import { HF_TINY } from '../helpers/fixtures';

const seed = process.env.SIL_FUZZ_SEED !== undefined ? Number(process.env.SIL_FUZZ_SEED) : Date.now() % 2 ** 31;
const params = (numRuns: number): fc.Parameters<unknown> => ({ numRuns, seed });

/** Runs `f`; a SilError counts as a clean rejection, anything else fails the property. */
function clean<T>(f: () => T): T | SilError {
  try {
    return f();
  } catch (e) {
    if (e instanceof SilError) return e;
    throw new Error(`not a SilError: ${(e as Error)?.stack ?? String(e)}`);
  }
}

let dir: string;
let n = 0;
const file = (name: string) => path.join(dir, `${n++}-${name}`);
beforeAll(() => {
  dir = tmpDir('fuzz');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// ---- safetensors -------------------------------------------------------------------------------
const DTYPES = ['F32', 'F16', 'BF16', 'F64', 'I8', 'U8', 'I32', 'I64', 'BOOL', 'F8_E4M3', 'f32', 'Q4', ''];
const dim = fc.oneof(fc.integer({ min: 0, max: 6 }), fc.integer(), fc.double(), fc.constant(2 ** 53), fc.string({ maxLength: 2 }));
const tensorEntry = fc.record(
  {
    dtype: fc.oneof(fc.constantFrom(...DTYPES), fc.jsonValue()),
    shape: fc.oneof(fc.array(dim, { maxLength: 3 }), fc.jsonValue()),
    data_offsets: fc.oneof(fc.tuple(fc.integer({ min: 0, max: 80 }), fc.integer({ min: 0, max: 80 })), fc.array(fc.oneof(fc.integer(), fc.double()), { maxLength: 3 }), fc.jsonValue()),
  },
  { requiredKeys: [] },
);
const header = fc.oneof(
  fc.dictionary(fc.oneof(fc.constantFrom('a', 'b', 'w'), fc.string({ maxLength: 4 })), tensorEntry, { maxKeys: 4 }),
  fc.record({ __metadata__: fc.oneof(fc.dictionary(fc.string({ maxLength: 4 }), fc.oneof(fc.string({ maxLength: 4 }), fc.jsonValue())), fc.jsonValue()), a: tensorEntry }, { requiredKeys: [] }),
  fc.jsonValue(),
);

function writeRaw(p: string, headerText: string, body: number, lengthField?: bigint): void {
  const json = Buffer.from(headerText);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthField ?? BigInt(json.length));
  fs.writeFileSync(p, Buffer.concat([len, json, Buffer.alloc(body, 1)]));
}

function readEverything(f: SafetensorsFile): void {
  for (const [name, info] of f.tensors) {
    expect(info.numel).toBeGreaterThanOrEqual(0);
    f.readBytes(name);
    if (['F32', 'F16', 'BF16'].includes(info.dtype)) f.readF32(name);
  }
}

/** Opens `p` and reads every tensor: each step succeeds or throws a SilError; then removes the file. */
function openAndReadAll(p: string): void {
  const r = clean(() => SafetensorsFile.open(p));
  if (!(r instanceof SilError)) {
    clean(() => readEverything(r));
    r.close();
  }
  fs.rmSync(p);
}

describe(`fuzzing (seed ${seed})`, () => {
  it('safetensors headers: any header JSON opens and reads, or is a SilError', () => {
    fc.assert(
      fc.property(header, fc.integer({ min: 0, max: 96 }), fc.option(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { freq: 8 }), (h, body, lengthField) => {
        const p = file('h.safetensors');
        writeRaw(p, JSON.stringify(h) ?? 'null', body, lengthField ?? undefined);
        openAndReadAll(p);
      }),
      params(2000),
    );
  });

  it('safetensors bodies: a valid file with flipped bytes or cut short opens and reads, or is a SilError', () => {
    const good = file('good.safetensors');
    writeSafetensors(
      good,
      [
        { name: 'a', shape: [3, 4], dtype: 'F32', data: Float32Array.from({ length: 12 }, (_, i) => i) },
        { name: 'b', shape: [5], dtype: 'BF16', data: Float32Array.from([1, 2, 3, 4, 5]) },
      ],
      { format: 'pt' },
    );
    const bytes = fs.readFileSync(good);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(bytes.length - 1), fc.nat(255)), { maxLength: 6 }), fc.nat(bytes.length), (flips, cut) => {
        const b = Buffer.from(bytes.subarray(0, Math.max(cut, 0) === 0 ? bytes.length : cut));
        for (const [i, v] of flips) if (i < b.length) b[i] = v;
        const p = file('m.safetensors');
        fs.writeFileSync(p, b);
        openAndReadAll(p);
      }),
      params(2000),
    );
  });

  it('index.json: any weight map over real shards opens as a checkpoint, or is a SilError', () => {
    const ck = file('ck');
    fs.mkdirSync(ck);
    writeSafetensors(path.join(ck, 'model-00001-of-00002.safetensors'), [{ name: 'x', shape: [2], dtype: 'F32', data: Float32Array.from([1, 2]) }]);
    writeSafetensors(path.join(ck, 'model-00002-of-00002.safetensors'), [{ name: 'y', shape: [1], dtype: 'F32', data: Float32Array.from([3]) }]);
    const shard = fc.oneof(fc.constantFrom('model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', '../x.safetensors', '', '/etc/passwd', 'missing.safetensors'), fc.jsonValue());
    const index = fc.oneof(
      fc.record({ metadata: fc.jsonValue(), weight_map: fc.oneof(fc.dictionary(fc.constantFrom('x', 'y', 'z', '__proto__', 'constructor'), shard), fc.jsonValue()) }, { requiredKeys: [] }),
      fc.jsonValue(),
    );
    fc.assert(
      fc.property(index, fc.boolean(), (idx, raw) => {
        fs.writeFileSync(path.join(ck, 'model.safetensors.index.json'), raw ? JSON.stringify(idx).slice(0, 20) : (JSON.stringify(idx) ?? 'null'));
        const r = clean(() => Checkpoint.open(ck));
        if (!(r instanceof SilError)) {
          for (const name of r.names()) clean(() => r.readF32(name));
          r.close();
        }
      }),
      params(1000),
    );
  });

  it('config.json: any field values parse to a config within its invariants, or are a SilError', () => {
    const qwen = JSON.parse(fs.readFileSync(path.join(HF_TINY, 'qwen2-tiny-bf16-sharded/base/config.json'), 'utf8'));
    const keys = Object.keys(qwen).concat(['head_dim', 'rope_theta', 'rope_scaling', 'attention_bias', 'mlp_bias', 'partial_rotary_factor', 'torch_dtype']);
    const weird = fc.oneof(
      fc.jsonValue(),
      fc.constantFrom(-1, 0, 1, 1e300, 2 ** 53, 0.5, 'x', 'yes', null, 'linear', [], {}, { rope_type: 'llama3', factor: -1 }, { rope_type: 'linear', factor: 2 }),
      fc.integer(),
      fc.double(),
    );
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...keys), weird, { maxKeys: 4 }), fc.boolean(), (changes, dropSome) => {
        const raw: Record<string, unknown> = { ...qwen, ...changes };
        if (dropSome) for (const k of Object.keys(changes)) delete raw[k];
        const c = clean(() => parseModelConfig(raw, 'config.json'));
        if (c instanceof SilError) {
          expect(c.code).toMatch(/^(INVALID_CONFIG|UNSUPPORTED_OPTION|UNSUPPORTED_ARCHITECTURE)$/);
          return;
        }
        for (const v of [c.vocabSize, c.hiddenSize, c.intermediateSize, c.numLayers, c.numHeads, c.numKvHeads, c.headDim]) expect(Number.isSafeInteger(v) && v > 0).toBe(true);
        expect(c.rmsNormEps > 0 && c.rmsNormEps <= 1).toBe(true);
        expect(c.rope.theta > 0 && Number.isFinite(c.rope.theta)).toBe(true);
        expect(c.numHeads % c.numKvHeads).toBe(0);
        expect(typeof c.tieWordEmbeddings).toBe('boolean');
        expect(c.maxPositionEmbeddings === null || Number.isSafeInteger(c.maxPositionEmbeddings)).toBe(true);
        clean(() => checkConfigShapes(c, new Map([['model.embed_tokens.weight', [256, 64]]]), 'config.json'));
      }),
      params(2000),
    );
  });

  it('calibration JSONL: any bytes parse to valid records, or are a SilError naming the line', () => {
    const good = { id: 'a', lang: 'en', kind: 'harmful', prompt: 'p', response: 'r' };
    const record = fc.oneof(
      fc.record(
        {
          id: fc.oneof(fc.string(), fc.jsonValue()),
          lang: fc.oneof(fc.constantFrom('en', 'it', 'pt-BR', 'EN', 'e', ''), fc.string()),
          kind: fc.oneof(fc.constantFrom('harmful', 'refusal', 'benign', 'other'), fc.jsonValue()),
          prompt: fc.oneof(fc.string(), fc.jsonValue()),
          response: fc.oneof(fc.string(), fc.jsonValue()),
          system: fc.jsonValue(),
        },
        { requiredKeys: [] },
      ),
      fc.constant(good),
      fc.jsonValue(),
    );
    const line = fc.oneof(
      record.map((r) => JSON.stringify(r) ?? ''),
      fc.string({ maxLength: 20 }),
      fc.constant(''),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 6 }), fc.array(fc.tuple(fc.nat(400), fc.nat(255)), { maxLength: 2 }), (lines, flips) => {
        const b = Buffer.from(lines.join('\n'));
        for (const [i, v] of flips) if (i < b.length) b[i] = v;
        const r = clean(() => parseCalibrationJsonl(decodeTextInput(b, 'c.jsonl'), 'c.jsonl'));
        if (r instanceof SilError) {
          expect(r.code).toBe('INVALID_DATA');
          expect(r.message).toContain('c.jsonl');
          return;
        }
        for (const x of r) {
          expect(['harmful', 'refusal', 'benign']).toContain(x.kind);
          expect(x.prompt.trim()).not.toBe('');
        }
      }),
      params(1500),
    );
  });

  it('mask metadata: any format, bitorder and shape metadata reads as 0/1 masks, or is a SilError', () => {
    const meta = fc.record(
      {
        format: fc.oneof(fc.constantFrom('bitpack', 'pt', 'u8', ''), fc.string({ maxLength: 4 })),
        bitorder: fc.oneof(fc.constantFrom('little', 'big', 'middle', ''), fc.string({ maxLength: 4 })),
        shape: fc.oneof(
          fc.constantFrom('{"w":[9]}', '{"w":[3,3]}', '{"w":[17]}', '{"w":[-1]}', '{"w":"9"}', '[9]', 'null', '{', '{"w":[1e300]}', '{"w":[2.5]}'),
          fc.jsonValue().map((v) => JSON.stringify(v) ?? ''),
        ),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(meta, fc.uint8Array({ minLength: 0, maxLength: 3 }), fc.constantFrom('U8', 'BOOL', 'F32'), (m, data, dtype) => {
        const p = file('mask.safetensors');
        const t = dtype === 'F32' ? { name: 'w', shape: [1], dtype: 'F32' as const, data: Float32Array.from([1]) } : { name: 'w', shape: [data.length], dtype: dtype as 'U8', data };
        writeSafetensors(p, [t], m as Record<string, string>);
        const f = clean(() => MaskFile.open(p));
        if (!(f instanceof SilError)) {
          const d = clean(() => f.read('w'));
          if (!(d instanceof SilError)) expect(d.every((x) => x === 0 || x === 1)).toBe(true);
          const n = f.shape('w').reduce((a, b) => a * b, 1);
          if (n > 0) clean(() => f.readRange('w', 0, n));
          f.close();
        }
        fs.rmSync(p);
      }),
      params(1000),
    );
  });

  it('run-folder files: any manifest and table text load, or are a SilError naming the file', () => {
    const run = file('run');
    fs.mkdirSync(run);
    const cell = fc.oneof(fc.constantFrom('0', '1', '-1', '0.5', '1e308', 'NaN', '', 'en', '"', '""', 'Infinity', '3.5'), fc.string({ maxLength: 3 }));
    const csvText = fc
      .tuple(fc.constantFrom('a,b,sir,iou,cosine', 'method,k,eval_lang,violation_rate', 'a,a', ''), fc.array(fc.array(cell, { maxLength: 6 }), { maxLength: 3 }))
      .map(([h, rows]) => [h, ...rows.map((r) => r.join(','))].join('\n'));
    fc.assert(
      fc.property(
        fc.oneof(fc.jsonValue(), fc.record({ k: fc.jsonValue(), languages: fc.jsonValue(), options: fc.jsonValue() }, { requiredKeys: [] })),
        csvText,
        fc.constantFrom('overlap.csv', 'eval/k_sweep.csv'),
        (manifest, csv, table) => {
          const m = clean(() => validateManifest(manifest, 'manifest.json'));
          if (!(m instanceof SilError)) expect(typeof m).toBe('object');
          clean(() => parseCsv(csv, 't.csv'));
          fs.rmSync(run, { recursive: true, force: true });
          fs.mkdirSync(path.join(run, 'eval'), { recursive: true });
          fs.writeFileSync(path.join(run, 'manifest.json'), JSON.stringify(manifest) ?? '');
          fs.writeFileSync(path.join(run, table), csv);
          const r = clean(() => loadRun(run));
          if (r instanceof SilError) expect(r.message).toMatch(/manifest\.json|overlap\.csv|k_sweep\.csv/);
        },
      ),
      params(1500),
    );
  });
});
