/**
 * `sil grad --stream always`: the layer-streamed pass writes the same file as the in-memory one —
 * every golden gradient and snip score, the loss in the metadata — tensor by tensor, and reports
 * that it streamed; a bad batch still leaves nothing behind.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runGrad } from '../../src/cli/grad';
import { SafetensorsFile } from '../../src/io/safetensors';
import { expectGoldenFile, type Golden, goldenDirs, loadGolden } from '../model/parity-helpers';

let tmp: string;
let stdout: jest.SpyInstance;
let stderr: jest.SpyInstance;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-grad-stream-'));
  stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
});
afterAll(() => {
  stdout.mockRestore();
  stderr.mockRestore();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The golden batch of `g` as a batch file. */
function batchFile(g: Golden): string {
  const { input_ids, attention_mask, labels } = g.json;
  const batch = path.join(tmp, `${g.name}.json`);
  fs.writeFileSync(batch, JSON.stringify({ input_ids, attention_mask, labels }));
  return batch;
}

describe('sil grad --stream always', () => {
  it.each(goldenDirs().shared.map((d, k) => [k, d]))('writes the golden gradients and snip scores of fixture %i, and prints the memory plan', async (_k, dir) => {
    const g = loadGolden(dir);
    const out = path.join(tmp, `${g.name}.safetensors`);
    try {
      stderr.mockClear();
      const summary = await runGrad({ model: g.model, batch: batchFile(g), out, snip: true, backend: 'wasm', stream: 'always' });
      expect(summary.streamed).toBe(true);
      expect(summary.stream_reason).toBe('--stream always');
      expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toMatch(/layer streaming: \d+ layers × .* planned peak: backend/s);
      const f = SafetensorsFile.open(out);
      try {
        expect(f.metadata.streamed).toBe('true');
        expectGoldenFile(f, g);
      } finally {
        f.close();
      }
    } finally {
      g.tensors.close();
    }
  });

  it.each(goldenDirs().shared.map((d, k) => [k, d]))(
    'takes the batch one sequence at a time through each layer and writes the golden gradients, snip scores and loss of fixture %i (--sequences-per-group 1)',
    async (_k, dir) => {
      const g = loadGolden(dir);
      const out = path.join(tmp, `${g.name}.per1.safetensors`);
      const { input_ids } = g.json;
      try {
        stderr.mockClear();
        const summary = await runGrad({ model: g.model, batch: batchFile(g), out, snip: true, backend: 'cpu', stream: 'always', sequencesPerGroup: '1' });
        expect(summary.groups).toBe(input_ids.length);
        expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toMatch(new RegExp(`takes 1 of the batch's ${input_ids.length} sequences at a time`));
        expect(
          stderr.mock.calls
            .map((c) => String(c[0]))
            .join('')
            .match(/layer streaming:/g),
        ).toHaveLength(1); // the plan, once
        const f = SafetensorsFile.open(out);
        try {
          expect(f.metadata.sequence_groups).toBe(String(input_ids.length));
          expectGoldenFile(f, g);
        } finally {
          f.close();
        }
      } finally {
        g.tensors.close();
      }
      // refused before any work, on the in-memory pass too
      const bad = path.join(tmp, 'bad-per-pass.safetensors');
      await expect(runGrad({ model: g.model, batch: batchFile(g), out: bad, sequencesPerGroup: '0' })).rejects.toThrow(/--sequences-per-group/);
      expect(fs.existsSync(bad)).toBe(false);
    },
  );

  it('refuses a batch with a token outside the vocabulary and writes nothing', async () => {
    const g = loadGolden(goldenDirs().shared[0]);
    g.tensors.close();
    const out = path.join(tmp, 'oov.safetensors');
    const batch = path.join(tmp, 'oov.json');
    fs.writeFileSync(batch, JSON.stringify({ input_ids: [[1, 2, 1e6]], labels: [[1, 2, 3]] }));
    await expect(runGrad({ model: g.model, batch, out, backend: 'wasm', stream: 'always' })).rejects.toMatchObject({ code: 'INVALID_DATA' });
    expect(fs.readdirSync(tmp).filter((f) => f.includes('oov.safetensors'))).toEqual([]);
  });

  it('rejects an unknown --stream mode', async () => {
    const g = loadGolden(goldenDirs().shared[0]);
    g.tensors.close();
    const batch = path.join(tmp, 'ok.json');
    fs.writeFileSync(batch, JSON.stringify({ input_ids: g.json.input_ids, labels: g.json.labels }));
    await expect(runGrad({ model: g.model, batch, out: path.join(tmp, 'x.safetensors'), backend: 'wasm', stream: 'sometimes' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
