/**
 * `sil grad --blas`: the wasm workers' products through the system BLAS or not, recorded as `matmul`
 * in the summary and in the file's metadata, with the PyTorch gradients either way. Skipped, with the
 * reason, where no BLAS loads. The wasm workers run from dist/ (build with `npx tsc -p .` first).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { blasUnavailable, loadBlas } from '../../src/blas';
import { runGrad } from '../../src/cli/grad';
import { SafetensorsFile } from '../../src/io/safetensors';
import { compareTensors, goldenDirs, loadGolden } from '../model/parity-helpers';

const why = blasUnavailable();
const describeBlas = why ? describe.skip : describe;

let tmp: string;
let stdout: jest.SpyInstance;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-grad-blas-'));
  stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
});
afterAll(() => {
  stdout.mockRestore();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describeBlas(why ? `sil grad --blas (skipped: ${why})` : 'sil grad --blas', () => {
  it.each(['auto', 'off'] as const)('with --blas %s on 2 wasm workers records what the products ran on and writes the golden gradients', async (blas) => {
    const g = loadGolden(goldenDirs().shared[0]);
    const out = path.join(tmp, `grads-${blas}.safetensors`);
    const batch = path.join(tmp, 'batch.json');
    try {
      const { input_ids, attention_mask, labels } = g.json;
      fs.writeFileSync(batch, JSON.stringify({ input_ids, attention_mask, labels }));
      const summary = await runGrad({ model: g.model, batch, out, backend: 'wasm', blas, threads: 2 });
      const want = blas === 'off' ? 'wasm' : loadBlas()!.name;
      expect(summary.workers).toBe(2);
      expect(summary.matmul).toBe(want);
      expect(summary.matmul_note).toMatch(blas === 'off' ? /--blas off/ : /threads? per worker × 2 workers/);
      const f = SafetensorsFile.open(out);
      try {
        expect(f.metadata.matmul).toBe(want);
        const names = [...g.tensors.tensors.keys()].filter((n) => n.startsWith('grad/'));
        const cmp = compareTensors(
          names.map((name) => ({ name, got: f.readF32(name), want: g.tensors.readF32(name) })),
          1e-5,
          'relL2',
        );
        if (cmp.failed.length > 0) throw new Error(cmp.report);
      } finally {
        f.close();
      }
    } finally {
      g.tensors.close();
    }
  });
});
