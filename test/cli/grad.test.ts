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
import { compareTensors, goldenDirs, loadGolden } from '../model/parity-helpers';

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
        expect(Math.abs(Number(f.metadata.loss) - g.json.loss) / g.json.loss).toBeLessThan(1e-5);
        const want = [...g.tensors.tensors.keys()].filter((n) => n.startsWith('grad/') || n.startsWith('snip/')).sort();
        expect([...f.tensors.keys()].sort()).toEqual(want);
        const cmp = compareTensors(want.map((name) => ({ name, got: f.readF32(name), want: g.tensors.readF32(name) })), 1e-3, 'relL2');
        if (cmp.failed.length > 0) throw new Error(cmp.report);
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
    await expect(runGrad({ model: g.model, batch: writeBatch('ragged.json', bad), out, backend: 'cpu' })).rejects.toMatchObject({ code: 'INVALID_DATA', message: expect.stringMatching(/attention_mask/) });
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
