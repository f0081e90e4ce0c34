/**
 * sil sweep on the demo pair: each point equals locate → stitch → eval done by hand, k_sweep.csv
 * and the figure are written, stitched checkpoints are removed unless --keep, an interrupted or
 * repeated sweep resumes (only missing points run), other settings need --force.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { evaluate } from '../../src/eval/evaluate';
import { locate } from '../../src/locate/run';
import { resolveOptions } from '../../src/locate/options';
import { parseCsv } from '../../src/io/csv';
import { stitchCheckpoint } from '../../src/stitch/stitch';
import { sweep } from '../../src/sweep/sweep';
import { useBackend } from '../../src/model/backend';
import { SILENT } from '../../src/progress';

const REPO = path.resolve(__dirname, '../..');
const BASE = path.join(REPO, 'weights/demo/base');
const ATTACKED = path.join(REPO, 'weights/demo/attacked');
const DATA = path.join(REPO, 'data/demo-eval.jsonl');
const have = fs.existsSync(path.join(BASE, 'model.safetensors'));
const maybe = have ? describe : describe.skip;

maybe(`sil sweep on the demo pair${have ? '' : ' [skipped: weights/demo is not built]'}`, () => {
  let tmp: string;
  const common = { base: BASE, attacked: ATTACKED, data: DATA, lang: 'en', langs: ['en', 'it'], limit: 4, maxNewTokens: 24, threads: 1 };
  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-sweep-'));
    await useBackend('wasm');
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('each point equals locate, stitch and eval run by hand, and k_sweep.csv and the figure hold every point with n and the interval', async () => {
    const out = path.join(tmp, 'run');
    const r = await sweep({ ...common, out, methods: ['weightdiff', 'random'], ks: [1, 0.05] });
    expect(r.points.map((p) => `${p.method}@${p.k}:${p.status}`)).toEqual(['weightdiff@0.05:run', 'weightdiff@1:run', 'random@0.05:run', 'random@1:run']);
    // by hand: weightdiff at k = 1
    const hand = path.join(tmp, 'hand');
    await locate(resolveOptions({ base: BASE, attacked: ATTACKED, out: path.join(hand, 'loc'), langs: 'en', score: 'weightdiff', k: 1, benign: false, threads: 1, json: true }), SILENT);
    await stitchCheckpoint({ base: BASE, attacked: ATTACKED, mask: path.join(hand, 'loc/masks/en.safetensors'), out: path.join(hand, 'model') });
    const e = await evaluate({ model: path.join(hand, 'model'), prompts: DATA, out: path.join(hand, 'ev'), langs: ['en', 'it'], limit: 4, maxNewTokens: 24, ftLang: 'en' });
    const csv = parseCsv(fs.readFileSync(path.join(out, 'eval/k_sweep.csv'), 'utf8'));
    expect(csv.header).toEqual(['method', 'k', 'eval_lang', 'n', 'violations', 'violation_rate', 'ci_low', 'ci_high', 'condition_id']);
    expect(csv.rows).toHaveLength(8);
    const mine = csv.rows.filter((x) => x.method === 'weightdiff' && x.k === '1');
    expect(mine.map((x) => `${x.eval_lang} ${x.violations}/${x.n}`)).toEqual(e.languages.map((l) => `${l.lang} ${l.violations}/${l.n}`));
    // the same stitched checkpoint: the same content hash in the condition id
    expect(mine[0].condition_id).toBe(`stitch=weightdiff,k=1@${e.checkpoint_sha256.slice(0, 12)}`);
    for (const x of csv.rows) expect(Number(x.ci_low)).toBeLessThanOrEqual(Number(x.violation_rate));
    // the figure
    expect(fs.readFileSync(path.join(out, 'eval/k-sweep.png')).subarray(1, 4).toString()).toBe('PNG');
    expect(fs.readFileSync(path.join(out, 'eval/k-sweep.svg'), 'utf8')).toMatch(/^<svg /);
    // stitched checkpoints are gone; gradients were not needed, masks are kept
    expect(fs.existsSync(path.join(out, 'sweep/models'))).toBe(false);
    expect(fs.existsSync(path.join(out, 'sweep/weightdiff/k-1/masks/en.safetensors'))).toBe(true);
  }, 600000);

  it('resumes: a second sweep runs only the points that are missing, and --keep keeps their checkpoints', async () => {
    const out = path.join(tmp, 'run');
    const r = await sweep({ ...common, out, methods: ['weightdiff', 'random'], ks: [0.05, 0.3, 1], keep: true });
    expect(r.points.map((p) => `${p.method}@${p.k}:${p.status}`)).toEqual([
      'weightdiff@0.05:resumed',
      'weightdiff@0.3:run',
      'weightdiff@1:resumed',
      'random@0.05:resumed',
      'random@0.3:run',
      'random@1:resumed',
    ]);
    expect(fs.readdirSync(path.join(out, 'sweep/models')).sort()).toEqual(['random-k0.3', 'weightdiff-k0.3']);
    expect(parseCsv(fs.readFileSync(path.join(out, 'eval/k_sweep.csv'), 'utf8')).rows).toHaveLength(12);
  }, 600000);

  it('refuses a folder that holds a sweep with other settings unless --force', async () => {
    const out = path.join(tmp, 'run');
    await expect(sweep({ ...common, out, limit: 2, methods: ['random'], ks: [0.05] })).rejects.toMatchObject({ code: 'OUTPUT_EXISTS' });
    const r = await sweep({ ...common, out, limit: 2, methods: ['random'], ks: [0.05], force: true });
    expect(r.points.map((p) => p.status)).toEqual(['run']);
    expect(r.points[0].rows.map((x) => x.n)).toEqual([2, 2]);
    expect(parseCsv(fs.readFileSync(path.join(out, 'eval/k_sweep.csv'), 'utf8')).rows).toHaveLength(2);
  }, 600000);

  it('rejects an unknown method and a k outside (0, 1] before any work', async () => {
    await expect(sweep({ ...common, out: path.join(tmp, 'never'), methods: ['magic'], ks: [0.1] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(sweep({ ...common, out: path.join(tmp, 'never'), methods: ['sil'], ks: [0] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(fs.existsSync(path.join(tmp, 'never'))).toBe(false);
  });
});
