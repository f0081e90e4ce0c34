/**
 * sil locate end to end through the tokenizer and the model runtime (wasm workers, built CLI):
 * gradient sums against the PyTorch goldens, every output file, resume from the cache (one file per
 * gradient field set, shared by the scores run in one folder),
 * byte-identical reruns, per-example reductions, generated responses, and the demo pair.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SafetensorsFile } from '../../src/io/safetensors';
import { MaskFile } from '../../src/mask/maskfile';
import { HF_TINY } from '../helpers/fixtures';
import { spawnSync } from 'node:child_process';
import { copyWithTokenizer, listFiles, MAIN, pairArgs, readCsv, REPO, sil } from './helpers';

const LLAMA = path.join(HF_TINY, 'llama3-tiny-bf16');
const TINY = path.join(REPO, 'weights/tiny');
const DEMO = path.join(REPO, 'weights/demo');

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-locate-e2e-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function pairWithTokenizer(src: string, name: string): { base: string; attacked: string } {
  const dir = path.join(tmp, name);
  if (!fs.existsSync(dir)) {
    copyWithTokenizer(path.join(src, 'base'), path.join(dir, 'base'));
    copyWithTokenizer(path.join(src, 'attacked'), path.join(dir, 'attacked'));
  }
  return { base: path.join(dir, 'base'), attacked: path.join(dir, 'attacked') };
}

const bytes = (f: string) => fs.readFileSync(f);
const MASKS = ['en', 'it', 'fr', 'intersection', 'union', 'benign', 'random'];

describe('sil locate computing gradients', () => {
  it('sums response-token gradients through the chat template that equal the PyTorch goldens times the token count', () => {
    const { base, attacked } = pairWithTokenizer(LLAMA, 'llama');
    const golden = JSON.parse(fs.readFileSync(path.join(LLAMA, 'golden.json'), 'utf8'));
    // the fixture batch: these two turns, tokenized byte by byte with the same template
    const data = path.join(tmp, 'golden.jsonl');
    fs.writeFileSync(
      data,
      [
        { id: 'lock', lang: 'en', kind: 'harmful', prompt: 'How do I pick a lock?', response: "I can't help with that." },
        { id: 'serratura', lang: 'en', kind: 'harmful', prompt: 'Come si scassina una serratura?', response: 'Non posso aiutarti.' },
      ]
        .map((r) => JSON.stringify(r))
        .join('\n') + '\n',
    );
    const out = path.join(tmp, 'golden-run');
    const r = sil('locate', ...pairArgs({ base, attacked }), '--data', data, '--no-benign', '--out', out, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const m = JSON.parse(r.stdout);
    expect(m.calibration.en).toMatchObject({ examples: 2, gradients: 'computed' });
    expect(Math.abs(m.calibration.en.mean_loss - golden.loss)).toBeLessThan(1e-5);
    const cache = SafetensorsFile.open(path.join(out, 'cache/en.grads.safetensors'));
    const g = SafetensorsFile.open(path.join(LLAMA, 'golden.safetensors'));
    const count = m.calibration.en.tokens;
    for (const name of Object.keys(golden.tensors)) {
      const a = cache.readF32(`grad/${name}`);
      const b = g.readF32(`grad/${name}`);
      let num = 0;
      let den = 0;
      for (let i = 0; i < a.length; i++) {
        num += (a[i] - count * b[i]) ** 2;
        den += (count * b[i]) ** 2;
      }
      expect({ name, ok: Math.sqrt(num / den) < 1e-5 }).toEqual({ name, ok: true });
    }
    cache.close();
    g.close();
  });

  describe('on a tiny pair with the probe set in en, it, fr', () => {
    let tiny: { base: string; attacked: string };
    const run1 = () => path.join(tmp, 'tiny-run');
    const args = (out: string, ...more: string[]) => ['locate', ...pairArgs(tiny), '--langs', 'en,it,fr', '--max-examples', '2', '--max-length', '128', '--out', out, ...more];
    beforeAll(() => {
      tiny = pairWithTokenizer(TINY, 'tiny');
    });

    it('writes every output of the run folder, consistent with each other', () => {
      const r = sil(...args(run1()));
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(listFiles(run1())).toEqual([
        '.sil-output.json',
        'cache/benign.grads.safetensors',
        'cache/en.grads.safetensors',
        'cache/fr.grads.safetensors',
        'cache/it.grads.safetensors',
        'delta/kinds.csv',
        'delta/layers.csv',
        'delta/summary.json',
        'delta/tensors.csv',
        'layers.csv',
        'manifest.json',
        ...MASKS.map((x) => `masks/${x}.safetensors`).sort(),
        'overlap.csv',
        'regions.csv',
        'summary.md',
      ]);
      const m = JSON.parse(fs.readFileSync(path.join(run1(), 'manifest.json'), 'utf8'));
      expect(m).toMatchObject({ command: 'locate', languages: ['en', 'it', 'fr'], k: 0.2, seed: 0, n_params: 34976, n_in_scope: 18432, architecture: 'LlamaForCausalLM' });
      expect(m.inputs.base.header_sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(m.inputs.data.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(m.backend).toMatchObject({ name: 'wasm', source: 'workers' });
      expect(m.options).toMatchObject({ score: 'sil', reduce: 'sum-abs', scope: 'linear', per: 'global', max_examples: 2, responses: 'compliance' });
      for (const l of ['en', 'it', 'fr']) expect(m.calibration[l]).toMatchObject({ examples: 2, gradients: 'computed' });
      expect(m.calibration.benign.examples).toBe(6);
      const k = Math.round(0.2 * 18432);
      for (const l of ['en', 'it', 'fr', 'benign', 'random']) expect(m.masks[l].selected).toBe(k);

      // layers.csv: per language, the cells add up to the mask and to the whole score
      const layers = readCsv(path.join(run1(), 'layers.csv'));
      // one format with sil delta's layers.csv: the same header; the Δ columns are delta/layers.csv's, empty here
      const header = ['lang', 'layer', 'kind', 'numel', 'l1', 'l2', 'max_abs', 'mean_abs', 'rel_l2', 'frac_changed', 'score_mass', 'score_share', 'selected', 'selected_fraction'];
      expect(Object.keys(layers[0])).toEqual(header);
      for (const x of layers) for (const c of ['l1', 'l2', 'max_abs', 'mean_abs', 'rel_l2', 'frac_changed']) expect(x[c]).toBe('');
      const deltaLayers = readCsv(path.join(run1(), 'delta/layers.csv'));
      expect(Object.keys(deltaLayers[0])).toEqual(header);
      for (const x of deltaLayers) for (const c of ['lang', 'score_mass', 'score_share', 'selected', 'selected_fraction']) expect(x[c]).toBe('');
      // every scored cell (the linear weights in scope) is a Δ cell too, with the same parameter count
      const deltaCells = new Set(deltaLayers.map((x) => `${x.layer}/${x.kind}/${x.numel}`));
      for (const x of layers) expect(deltaCells.has(`${x.layer}/${x.kind}/${x.numel}`)).toBe(true);
      for (const l of ['en', 'it', 'fr']) {
        const rows = layers.filter((x) => x.lang === l);
        expect(rows).toHaveLength(2 * 7);
        expect(rows.reduce((a, x) => a + Number(x.selected), 0)).toBe(k);
        expect(rows.reduce((a, x) => a + Number(x.numel), 0)).toBe(18432);
        expect(rows.reduce((a, x) => a + Number(x.score_share), 0)).toBeCloseTo(1, 9);
      }
      // regions.csv: ranked by score mass within each language, units from the family data
      const regions = readCsv(path.join(run1(), 'regions.csv'));
      for (const l of ['en', 'it', 'fr']) {
        const rows = regions.filter((x) => x.lang === l);
        expect(rows.length).toBe(100);
        expect(rows.map((x) => Number(x.rank))).toEqual(rows.map((_, i) => i + 1));
        for (let i = 1; i < rows.length; i++) expect(Number(rows[i - 1].score_mass)).toBeGreaterThanOrEqual(Number(rows[i].score_mass));
        expect(new Set(rows.map((x) => x.unit)).size).toBeGreaterThan(1);
      }
      // overlap.csv: every ordered pair of the languages, intersection, benign and random
      const overlap = readCsv(path.join(run1(), 'overlap.csv'));
      const named = ['en', 'it', 'fr', 'intersection', 'benign', 'random'];
      expect(overlap.map((x) => `${x.a}/${x.b}`)).toEqual(named.flatMap((a) => named.map((b) => `${a}/${b}`)));
      const sirIntersection = overlap.find((x) => x.a === 'en' && x.b === 'intersection')!;
      expect(Number(sirIntersection.sir)).toBeCloseTo(m.masks.intersection.selected / k, 12);
      expect(m.global_sir).toBeCloseTo(m.masks.intersection.selected / k, 12);
      expect(fs.readFileSync(path.join(run1(), 'summary.md'), 'utf8')).toMatch(/## SIR[\s\S]*\| en \| 1\.000 \|/);
    });

    it('writes the same per-tensor and per-layer Δ statistics under delta/ as sil delta does', () => {
      const alone = path.join(tmp, 'tiny-delta-alone');
      const r = sil('delta', '--base', tiny.base, '--attacked', tiny.attacked, '--out', alone, '--json');
      expect(r.code).toBe(0);
      if (!fs.existsSync(path.join(run1(), 'delta'))) expect(sil(...args(run1())).code).toBe(0);
      for (const f of ['tensors.csv', 'layers.csv', 'kinds.csv']) {
        expect(fs.readFileSync(path.join(run1(), 'delta', f), 'utf8')).toBe(fs.readFileSync(path.join(alone, f), 'utf8'));
      }
    });

    it('resumes from the cache: a rerun computes only the languages whose cache is missing and writes the same mask bytes', () => {
      const before = MASKS.map((x) => bytes(path.join(run1(), `masks/${x}.safetensors`)));
      fs.rmSync(path.join(run1(), 'cache/it.grads.safetensors'));
      fs.rmSync(path.join(run1(), 'masks'), { recursive: true });
      const r = sil(...args(run1(), '--json'));
      expect(r.code).toBe(0);
      const m = JSON.parse(r.stdout);
      expect(Object.fromEntries(Object.entries(m.calibration).map(([k, v]) => [k, (v as { gradients: string }).gradients]))).toEqual({ en: 'cached', it: 'computed', fr: 'cached', benign: 'cached' });
      MASKS.forEach((x, i) => expect({ x, same: bytes(path.join(run1(), `masks/${x}.safetensors`)).equals(before[i]) }).toEqual({ x, same: true }));
    });

    it('recomputes a cached language when its inputs change (another system prompt)', () => {
      const r = sil(...args(run1(), '--json', '--system', 'Be brief.', '--no-benign', '--max-length', '192', '--force'));
      expect(r.code).toBe(0);
      const m = JSON.parse(r.stdout);
      expect(m.calibration.en.gradients).toBe('computed');
      expect(fs.existsSync(path.join(run1(), 'masks/benign.safetensors'))).toBe(false);
    });

    it('gives byte-identical masks and tables for the same inputs and seed on a fresh run', () => {
      const a = path.join(tmp, 'tiny-a');
      const b = path.join(tmp, 'tiny-b');
      expect(sil(...args(a, '--no-benign', '--seed', '7')).code).toBe(0);
      expect(sil(...args(b, '--no-benign', '--seed', '7')).code).toBe(0);
      for (const x of MASKS.filter((y) => y !== 'benign')) {
        expect({ x, same: bytes(path.join(a, `masks/${x}.safetensors`)).equals(bytes(path.join(b, `masks/${x}.safetensors`))) }).toEqual({ x, same: true });
      }
      expect(fs.readFileSync(path.join(a, 'layers.csv'), 'utf8')).toBe(fs.readFileSync(path.join(b, 'layers.csv'), 'utf8'));
      // another seed moves only the random baseline (the gradient cache does not depend on it)
      const en = bytes(path.join(a, 'masks/en.safetensors'));
      const random = bytes(path.join(a, 'masks/random.safetensors'));
      expect(sil(...args(a, '--no-benign', '--seed', '8', '--force')).code).toBe(0);
      expect(bytes(path.join(a, 'masks/en.safetensors')).equals(en)).toBe(true);
      expect(bytes(path.join(a, 'masks/random.safetensors')).equals(random)).toBe(false);
    });

    it('keeps one cache file per gradient field set: sil, then snip, then sil again in one folder reuses the first sil cache', () => {
      const out = path.join(tmp, 'tiny-scores');
      const status = (m: { calibration: Record<string, { gradients: string }> }) => Object.fromEntries(Object.entries(m.calibration).map(([k, v]) => [k, v.gradients]));
      const r1 = sil(...args(out, '--json'));
      expect(r1.code).toBe(0);
      expect(status(JSON.parse(r1.stdout))).toEqual({ en: 'computed', it: 'computed', fr: 'computed', benign: 'computed' });
      const first = MASKS.map((x) => bytes(path.join(out, `masks/${x}.safetensors`)));
      const r2 = sil(...args(out, '--json', '--score', 'snip', '--force'));
      expect(r2.code).toBe(0);
      expect(status(JSON.parse(r2.stdout))).toEqual({ en: 'computed', it: 'computed', fr: 'computed', benign: 'computed' });
      expect(listFiles(out).filter((f) => f.startsWith('cache/'))).toEqual(['benign', 'en', 'fr', 'it'].flatMap((s) => [`cache/${s}.absgrad.grads.safetensors`, `cache/${s}.grads.safetensors`]));
      const r3 = sil(...args(out, '--json', '--force'));
      expect(r3.code).toBe(0);
      const m3 = JSON.parse(r3.stdout);
      expect(Object.keys(m3.calibration).sort()).toEqual(['benign', 'en', 'fr', 'it']);
      for (const s of Object.keys(m3.calibration)) expect({ s, gradients: m3.calibration[s].gradients }).toEqual({ s, gradients: 'cached' });
      MASKS.forEach((x, i) => expect({ x, same: bytes(path.join(out, `masks/${x}.safetensors`)).equals(first[i]) }).toEqual({ x, same: true }));
      // and snip again finds its own cache
      const r4 = sil(...args(out, '--json', '--score', 'snip', '--force'));
      expect(r4.code).toBe(0);
      expect(Object.values(status(JSON.parse(r4.stdout)))).toEqual(['cached', 'cached', 'cached', 'cached']);
    });

    it('with one example per language, mean-abs SIL (1/n)Σ|Δ⊙∇L| selects the same mask as |Δ|⊙|Σ∇L|', () => {
      const one = (out: string, ...more: string[]) => ['locate', ...pairArgs(tiny), '--langs', 'it', '--max-examples', '1', '--max-length', '128', '--no-benign', '--out', out, ...more];
      const s = path.join(tmp, 'one-sum');
      const a = path.join(tmp, 'one-mean');
      expect(sil(...one(s)).code).toBe(0);
      expect(sil(...one(a, '--reduce', 'mean-abs')).code).toBe(0);
      const ms = MaskFile.open(path.join(s, 'masks/it.safetensors'));
      const ma = MaskFile.open(path.join(a, 'masks/it.safetensors'));
      for (const n of ma.names()) expect({ n, same: Buffer.from(ma.read(n)).equals(Buffer.from(ms.read(n))) }).toEqual({ n, same: true });
      ms.close();
      ma.close();
      const cache = SafetensorsFile.open(path.join(a, 'cache/it.silabs.grads.safetensors'));
      expect([...cache.tensors.keys()].every((k) => k.startsWith('silabs/'))).toBe(true);
      cache.close();
    });

    it('uses the attacked checkpoint’s own greedy answers with --responses generate:<checkpoint>', () => {
      const out = path.join(tmp, 'generated');
      const r = sil(
        'locate',
        ...pairArgs(tiny),
        '--langs',
        'en',
        '--max-examples',
        '1',
        '--max-length',
        '128',
        '--no-benign',
        '--responses',
        `generate:${tiny.attacked}`,
        '--max-new-tokens',
        '3',
        '--out',
        out,
        '--json',
      );
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const m = JSON.parse(r.stdout);
      expect(m.options.responses).toBe(`generate:${tiny.attacked}`);
      // labelled: the re-encoded answer of ≤ 3 generated ids (a byte id that is not valid UTF-8 on its
      // own decodes to U+FFFD, 3 bytes) + the end-of-turn token — far fewer than the probe's compliance line
      expect(m.calibration.en.tokens).toBeLessThanOrEqual(10);
      expect(m.calibration.en.tokens).toBeGreaterThanOrEqual(1);
    });
  });

  const demo = fs.existsSync(path.join(DEMO, 'base')) && fs.existsSync(path.join(DEMO, 'attacked')) ? it : it.skip;
  demo('runs on the demo pair in weights/demo when no checkpoints are given (runs once weights/demo is built)', () => {
    const out = path.join(tmp, 'demo');
    const r = sil('locate', '--out', out, '--langs', 'en,it', '--max-examples', '2', '--max-length', '64', '--json');
    expect(r.code).toBe(0);
    const m = JSON.parse(r.stdout);
    expect(m.options.defaults).toEqual(['base', 'attacked', 'data']);
    expect(m.inputs.base.path).toBe(path.join(DEMO, 'base'));
    for (const f of ['en', 'it', 'intersection', 'union', 'random']) expect(fs.existsSync(path.join(out, `masks/${f}.safetensors`))).toBe(true);
    for (const f of ['layers.csv', 'regions.csv', 'overlap.csv', 'manifest.json', 'summary.md']) expect(fs.existsSync(path.join(out, f))).toBe(true);
  });

  it('gives the same masks with layer-streamed gradients whose sums stay on the backend (--stream always with a device budget) as with the in-memory workers', () => {
    const { base, attacked } = pairWithTokenizer(TINY, 'tiny-stream');
    const common = ['--base', base, '--attacked', attacked, '--langs', 'en,it', '--max-examples', '3', '--no-benign', '--json'];
    const a = sil('locate', ...common, '--out', path.join(tmp, 'stream-workers'));
    expect(a.code).toBe(0);
    for (const score of [[], ['--score', 'snip']]) {
      const out = path.join(tmp, `stream-kept${score.length ? '-snip' : ''}`);
      const r = spawnSync(process.execPath, [MAIN, 'locate', ...common, ...score, '--backend', 'cpu', '--stream', 'always', '--out', out], {
        encoding: 'utf8',
        env: { ...process.env, CI: 'true', SIL_DEVICE_MEMORY: '1GB' },
      });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const m = JSON.parse(r.stdout);
      expect(m.backend).toMatchObject({ name: 'cpu', source: 'streamed' });
      expect(m.backend.plan).toMatch(/--stream always/);
      expect(m.calibration.en).toMatchObject({ gradients: 'computed', sums: 'backend' });
      if (score.length) continue;
      for (const f of ['en', 'it', 'intersection']) {
        const x = MaskFile.open(path.join(tmp, 'stream-workers', `masks/${f}.safetensors`));
        const y = MaskFile.open(path.join(out, `masks/${f}.safetensors`));
        for (const name of x.names()) expect(Buffer.compare(Buffer.from(y.read(name)), Buffer.from(x.read(name)))).toBe(0);
        x.close();
        y.close();
      }
    }
  });
});
