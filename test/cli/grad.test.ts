/**
 * `sil grad` end to end: the written file holds the PyTorch gradients (and |θ⊙∇θ|) of the golden
 * batch, with loss and backend in its metadata; bad batches are refused before anything is written.
 * The wasm workers run from dist/ (build with `npx tsc -p .` first).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runGrad } from '../../src/cli/grad';
import { SafetensorsFile } from '../../src/io/safetensors';
import { backendUnavailableSync } from '../../src/model/backend';
import { expectGoldenFile, goldenDirs, loadGolden } from '../model/parity-helpers';

let tmp: string;
let stdout: jest.SpyInstance;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-grad-'));
  stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
});
afterAll(() => {
  stdout.mockRestore();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function writeBatch(name: string, batch: unknown): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, JSON.stringify(batch));
  return f;
}

describe('sil grad', () => {
  it.each([
    ['wasm', 2, 0],
    ['cpu', 1, 1],
  ] as const)('on %s with %i worker(s) writes the golden gradients and snip scores of fixture %i', async (backend, threads, k) => {
    const g = loadGolden(goldenDirs().shared[k]);
    const out = path.join(tmp, `grads-${backend}.safetensors`);
    try {
      const { input_ids, attention_mask, labels } = g.json;
      const summary = await runGrad({ model: g.model, batch: writeBatch(`b${k}.json`, { input_ids, attention_mask, labels }), out, snip: true, backend, threads });
      expect(summary.backend).toBe(backend);
      expect(summary.workers).toBe(threads);
      const f = SafetensorsFile.open(out);
      try {
        expect(f.metadata.backend).toBe(backend);
        expectGoldenFile(f, g);
        expect([...f.tensors.values()].every((t) => t.dtype === 'F32')).toBe(true);
      } finally {
        f.close();
      }
    } finally {
      g.tensors.close();
    }
  });

  it('refuses a batch whose rows differ in length, and writes nothing', async () => {
    const g = loadGolden(goldenDirs().shared[0]);
    g.tensors.close();
    const out = path.join(tmp, 'ragged.safetensors');
    const { input_ids, attention_mask, labels } = g.json;
    const bad = { input_ids, attention_mask: attention_mask.map((r) => r.slice(1)), labels };
    await expect(runGrad({ model: g.model, batch: writeBatch('ragged.json', bad), out, backend: 'cpu' })).rejects.toMatchObject({
      code: 'INVALID_DATA',
      message: expect.stringMatching(/attention_mask/),
    });
    expect(fs.existsSync(out)).toBe(false);
  });

  it('refuses token ids outside the vocabulary', async () => {
    const g = loadGolden(goldenDirs().shared[0]);
    g.tensors.close();
    const { input_ids, attention_mask, labels } = g.json;
    const ids = input_ids.map((r) => [...r]);
    ids[1][3] = 256;
    await expect(runGrad({ model: g.model, batch: writeBatch('oov.json', { input_ids: ids, attention_mask, labels }), out: path.join(tmp, 'oov.safetensors'), backend: 'cpu' })).rejects.toMatchObject({
      code: 'INVALID_DATA',
      message: expect.stringMatching(/input_ids\[1\]\[3\] = 256 is outside the vocabulary/),
    });
  });

  const tfMissing = backendUnavailableSync('tensorflow') !== null;
  (tfMissing ? it : it.skip)('refuses an unavailable backend (tensorflow without tfjs-node) with a clear reason', async () => {
    const g = loadGolden(goldenDirs().shared[0]);
    g.tensors.close();
    const { input_ids, attention_mask, labels } = g.json;
    await expect(runGrad({ model: g.model, batch: writeBatch('t.json', { input_ids, attention_mask, labels }), out: path.join(tmp, 'tf.safetensors'), backend: 'tensorflow' })).rejects.toMatchObject({
      code: 'BACKEND_UNAVAILABLE',
    });
  });
});

describe('sil grad --data', () => {
  const REPO = path.resolve(__dirname, '../..');
  const DEMO = path.join(REPO, 'weights/demo');
  const demo = fs.existsSync(path.join(DEMO, 'base/model.safetensors')) ? it : it.skip;
  const why = demo === it ? '' : ' [skipped: weights/demo is not built]';

  demo(
    `builds a language's calibration set as sil locate does: the loss and gradient times the token count equal locate's cached sums${why}`,
    async () => {
      const { spawnSync } = await import('node:child_process');
      const run = path.join(tmp, 'locate-it');
      const data = path.join(REPO, 'data/demo-probes.jsonl');
      const r = spawnSync(
        process.execPath,
        [
          path.join(REPO, 'dist/cli/main.js'),
          'locate',
          '--base',
          path.join(DEMO, 'base'),
          '--attacked',
          path.join(DEMO, 'attacked'),
          '--data',
          data,
          '--langs',
          'it',
          '--max-examples',
          '5',
          '--no-benign',
          '--threads',
          '1',
          '--out',
          run,
          '--json',
        ],
        { encoding: 'utf8', env: { ...process.env, CI: 'true' } },
      );
      expect(r.status).toBe(0);
      const m = JSON.parse(r.stdout);
      const out = path.join(tmp, 'grad-it.safetensors');
      const s = await runGrad({ model: path.join(DEMO, 'base'), data, lang: 'it', limit: 5, out, backend: 'wasm', threads: 1 });
      expect(s.examples).toBe(5);
      expect(s.labelled_positions).toBe(m.calibration.it.tokens);
      expect(s.loss).toBeCloseTo(m.calibration.it.mean_loss, 5);
      const g = SafetensorsFile.open(out);
      const c = SafetensorsFile.open(path.join(run, 'cache/it.grads.safetensors'));
      expect(g.metadata).toMatchObject({ data, lang: 'it', kind: 'harmful', responses: 'compliance', limit: '5' });
      let num = 0;
      let den = 0;
      for (const name of [...g.tensors.keys()].filter((n) => n.startsWith('grad/'))) {
        const a = g.readF32(name);
        const b = c.readF32(name);
        for (let i = 0; i < a.length; i++) {
          const d = a[i] * s.labelled_positions - b[i];
          num += d * d;
          den += b[i] * b[i];
        }
      }
      g.close();
      c.close();
      expect(den).toBeGreaterThan(0);
      expect(Math.sqrt(num / den)).toBeLessThan(1e-5);
    },
    300000,
  );

  it('takes --batch or --data, not both, and --data only with --lang', async () => {
    const out = path.join(tmp, 'never.safetensors');
    await expect(runGrad({ model: 'x', out })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('give --batch BATCH.json (token ids) or --data FILE.jsonl --lang L'),
    });
    await expect(runGrad({ model: 'x', out, data: 'd.jsonl' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('--data needs --lang') });
    await expect(runGrad({ model: 'x', out, batch: 'b.json', lang: 'en' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(fs.existsSync(out)).toBe(false);
  });
});
