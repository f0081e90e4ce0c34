/**
 * sil locate against the hf-tiny oracles: masks from gradient sums given with --grads (the goldens'
 * grad/<name>, from PyTorch) equal the exact top-k of the scores computed here independently, and
 * every mask file loads back with the project's reader with the checkpoint's names and shapes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Checkpoint } from '../../src/io/checkpoint';
import { SafetensorsFile } from '../../src/io/safetensors';
import { MaskFile, readMask } from '../../src/mask/maskfile';
import { HF_TINY } from '../helpers/fixtures';
import { listFiles, pairArgs, readCsv, sil } from './helpers';

const LLAMA = path.join(HF_TINY, 'llama3-tiny-bf16');
const QWEN = path.join(HF_TINY, 'qwen2-tiny-bf16-sharded');

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-locate-fx-'));
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const isProjection = (name: string) => /_proj\.weight$/.test(name);
const isProjectionBias = (name: string) => /_proj\.bias$/.test(name);

/**
 * Reference selection, written independently of src/: per in-scope tensor the float32 score, then
 * a sort by (score desc, global index asc) and the first round(k·N) entries.
 */
function referenceMasks(
  fixture: string,
  score: (name: string, base: Float32Array, attacked: Float32Array, grad: Float32Array) => Float32Array,
  inScope: (name: string) => 'score' | 'zero' | 'out',
  k: number,
): Map<string, Uint8Array> {
  const base = Checkpoint.open(path.join(fixture, 'base'));
  const attacked = Checkpoint.open(path.join(fixture, 'attacked'));
  const golden = SafetensorsFile.open(path.join(fixture, 'golden.safetensors'));
  const entries: Array<{ s: number; t: number; i: number }> = [];
  const names = base.names();
  const out = new Map<string, Uint8Array>();
  names.forEach((name, t) => {
    const n = base.info(name).numel;
    out.set(name, new Uint8Array(n));
    const part = inScope(name);
    if (part === 'out') return;
    const s = part === 'zero' ? new Float32Array(n) : score(name, base.readF32(name), attacked.readF32(name), golden.readF32(`grad/${name}`));
    for (let i = 0; i < n; i++) entries.push({ s: s[i], t, i });
  });
  const kk = Math.round(k * entries.length);
  entries.sort((a, b) => b.s - a.s || a.t - b.t || a.i - b.i);
  for (let r = 0; r < kk; r++) out.get(names[entries[r].t])![entries[r].i] = 1;
  base.close();
  attacked.close();
  golden.close();
  return out;
}

const silRef = (_: string, b: Float32Array, a: Float32Array, g: Float32Array) => {
  const s = new Float32Array(b.length);
  for (let i = 0; i < b.length; i++) s[i] = Math.abs(Math.fround(a[i] - b[i]) * g[i]);
  return s;
};

function expectMaskEquals(file: string, want: Map<string, Uint8Array>): void {
  const m = readMask(file);
  expect(m.tensors.map((t) => t.name).sort()).toEqual([...want.keys()].sort());
  for (const t of m.tensors) {
    const w = want.get(t.name)!;
    let diff = 0;
    for (let i = 0; i < w.length; i++) if (w[i] !== t.data[i]) diff++;
    expect({ tensor: t.name, diff }).toEqual({ tensor: t.name, diff: 0 });
  }
}

describe('sil locate --grads on the hf-tiny fixtures', () => {
  it('writes sil masks equal to the top-k of |Δ|⊙|grad| computed independently from the goldens (llama, linear scope)', () => {
    const out = path.join(tmp, 'run');
    const r = sil('locate', ...pairArgs(LLAMA), '--grads', path.join(LLAMA, 'golden.safetensors'), '--langs', 'en', '--out', out);
    expect(r.code).toBe(0);
    const want = referenceMasks(LLAMA, silRef, (n) => (isProjection(n) ? 'score' : 'out'), 0.2);
    expectMaskEquals(path.join(out, 'masks/en.safetensors'), want);
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    expect(manifest.n_in_scope).toBe(2 * (4096 + 2048 + 2048 + 4096 + 3 * 8192));
    expect(manifest.masks.en.selected).toBe(Math.round(0.2 * manifest.n_in_scope));
    expect(manifest.inputs.grads[0].path).toBe(path.join(LLAMA, 'golden.safetensors'));
  });

  it('writes sil masks equal to the independent top-k on a sharded Qwen2 pair with biases, scope all, k = 5%', () => {
    const out = path.join(tmp, 'run');
    const r = sil('locate', ...pairArgs(QWEN), '--grads', path.join(QWEN, 'golden.safetensors'), '--langs', 'it', '--scope', 'all', '--k', '0.05', '--out', out);
    expect(r.code).toBe(0);
    const want = referenceMasks(QWEN, silRef, (n) => (isProjectionBias(n) ? 'zero' : 'score'), 0.05);
    expectMaskEquals(path.join(out, 'masks/it.safetensors'), want);
  });

  it('writes snip masks from a plain gradient file equal to the top-k of the goldens’ own |θ⊙∇L|', () => {
    const out = path.join(tmp, 'run');
    const r = sil('locate', ...pairArgs(LLAMA), '--grads', path.join(LLAMA, 'golden.safetensors'), '--langs', 'en', '--score', 'snip', '--scope', 'all', '--out', out);
    expect(r.code).toBe(0);
    const golden = SafetensorsFile.open(path.join(LLAMA, 'golden.safetensors'));
    const want = referenceMasks(
      LLAMA,
      (name) => golden.readF32(`snip/${name}`),
      () => 'score',
      0.2,
    );
    golden.close();
    expectMaskEquals(path.join(out, 'masks/en.safetensors'), want);
  });

  it('selects exactly the golden weightdiff threshold and count at k = 20% over every tensor', () => {
    const out = path.join(tmp, 'run');
    const r = sil('locate', ...pairArgs(LLAMA), '--score', 'weightdiff', '--scope', 'all', '--langs', 'en,it', '--no-benign', '--out', out, '--json');
    expect(r.code).toBe(0);
    const golden = JSON.parse(fs.readFileSync(path.join(LLAMA, 'golden.json'), 'utf8')).delta_topk['0.2'];
    const m = JSON.parse(r.stdout);
    expect(m.masks.en).toMatchObject({ selected: golden.k, threshold: golden.threshold });
    expect(m.masks.intersection.selected).toBe(golden.k);
  });

  it('writes masks that load back with the project reader: every checkpoint tensor, same shape, 0/1, k selected, nothing outside the scope', () => {
    for (const bitpack of [false, true]) {
      const out = path.join(tmp, bitpack ? 'packed' : 'u8');
      const r = sil('locate', ...pairArgs(QWEN), '--grads', path.join(QWEN, 'golden.safetensors'), '--langs', 'en', '--out', out, ...(bitpack ? ['--bitpack'] : []));
      expect(r.code).toBe(0);
      expect(listFiles(out)).toEqual([
        '.sil-output.json',
        'delta/kinds.csv',
        'delta/layers.csv',
        'delta/summary.json',
        'delta/tensors.csv',
        'layers.csv',
        'manifest.json',
        'masks/en.safetensors',
        'masks/intersection.safetensors',
        'masks/random.safetensors',
        'masks/union.safetensors',
        'overlap.csv',
        'regions.csv',
        'summary.md',
      ]);
      const ck = Checkpoint.open(path.join(QWEN, 'base'));
      const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
      for (const name of ['en', 'intersection', 'union', 'random']) {
        const f = MaskFile.open(path.join(out, `masks/${name}.safetensors`));
        expect(f.encoding).toBe(bitpack ? 'bitpack' : 'u8');
        expect(f.names()).toEqual(ck.names());
        let selected = 0;
        for (const n of ck.names()) {
          expect(f.shape(n)).toEqual(ck.info(n).shape);
          const d = f.read(n);
          let c = 0;
          for (const v of d) c += v;
          if (!isProjection(n) && !isProjectionBias(n)) expect({ n, c }).toEqual({ n, c: 0 });
          selected += c;
        }
        expect(selected).toBe(Math.round(0.2 * manifest.n_in_scope));
        f.close();
      }
      ck.close();
    }
  });

  it('reports SIR, IoU and cosine for every ordered pair, with the random baseline near k/N', () => {
    const out = path.join(tmp, 'run');
    expect(sil('locate', ...pairArgs(LLAMA), '--grads', path.join(LLAMA, 'golden.safetensors'), '--langs', 'en', '--out', out).code).toBe(0);
    const rows = readCsv(path.join(out, 'overlap.csv'));
    expect(rows.map((r) => `${r.a}/${r.b}`)).toEqual([
      'en/en',
      'en/intersection',
      'en/random',
      'intersection/en',
      'intersection/intersection',
      'intersection/random',
      'random/en',
      'random/intersection',
      'random/random',
    ]);
    const rnd = rows.find((r) => r.a === 'en' && r.b === 'random')!;
    expect(Math.abs(Number(rnd.sir) - 0.2)).toBeLessThan(0.02);
    expect(Number(rnd.iou)).toBeCloseTo(Number(rnd.sir) / (2 - Number(rnd.sir)), 12);
  });
});
