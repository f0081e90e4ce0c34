/**
 * Set difference in sil locate (Wei et al. 2024): per weight matrix, top-q of the safety score
 * minus top-p of the same score on the benign set — checked against a sort-based per-matrix
 * selection from the run's cached layer-input norms, and the option rules.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Checkpoint } from '../../src/io/checkpoint';
import { SafetensorsFile } from '../../src/io/safetensors';
import { resolveOptions } from '../../src/locate/options';
import { MaskFile } from '../../src/mask/maskfile';
import { wandaScore } from '../../src/score/wanda';
import { copyWithTokenizer, pairArgs, REPO, sil } from './helpers';

const TINY = path.join(REPO, 'weights/tiny');

/** Indices of the round(frac·n) largest scores (ties: lowest index), by a full sort. */
function topIndices(s: Float32Array, frac: number): Set<number> {
  const order = Array.from(s.keys()).sort((a, b) => s[b] - s[a] || a - b);
  return new Set(order.slice(0, Math.round(frac * s.length)));
}

describe('sil locate --setdiff', () => {
  let tmp: string;
  let base: string;
  let attacked: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-setdiff-'));
    base = copyWithTokenizer(path.join(TINY, 'base'), path.join(tmp, 'base'));
    attacked = copyWithTokenizer(path.join(TINY, 'attacked'), path.join(tmp, 'attacked'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** wanda set difference on the tiny pair: top-q minus top-p, one language, a few examples of at most 128 tokens. */
  const runSetdiff = (out: string, q: string, p: string, lang: string, examples: string) =>
    sil(
      'locate',
      ...pairArgs({ base, attacked }),
      '--score',
      'wanda',
      '--setdiff',
      'benign',
      '--q',
      q,
      '--p',
      p,
      '--langs',
      lang,
      '--max-examples',
      examples,
      '--max-length',
      '128',
      '--out',
      out,
      '--json',
    );

  it('keeps, per weight matrix, the top-q wanda weights on harmful data that are not in the top-p on benign data', () => {
    const out = path.join(tmp, 'run');
    const q = 0.1;
    const p = 0.05;
    const r = runSetdiff(out, String(q), String(p), 'en', '2');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const m = JSON.parse(r.stdout);
    expect(m.options.setdiff).toEqual({ q, p });
    expect(m.calibration.benign.activations).toBe('computed');
    expect(m.notes.some((n: string) => n.startsWith('set difference'))).toBe(true);

    const ck = Checkpoint.open(base);
    const harmful = SafetensorsFile.open(path.join(out, 'cache/en.inputs.safetensors'));
    const benign = SafetensorsFile.open(path.join(out, 'cache/benign.inputs.safetensors'));
    const mask = MaskFile.open(path.join(out, 'masks/en.safetensors'));
    let total = 0;
    let removed = 0;
    for (const n of ck.names().filter((x) => /_proj\.weight$/.test(x))) {
      const w = ck.readF32(n);
      const safety = topIndices(wandaScore(w, harmful.readF32(`norm/${n}`)), q);
      const utility = topIndices(wandaScore(w, benign.readF32(`norm/${n}`)), p);
      const got = mask.read(n);
      let wrong = 0;
      for (let i = 0; i < w.length; i++) if (got[i] !== (safety.has(i) && !utility.has(i) ? 1 : 0)) wrong++;
      expect({ n, wrong }).toEqual({ n, wrong: 0 });
      for (const i of safety) if (utility.has(i)) removed++;
      total += got.reduce((a, b) => a + b, 0);
    }
    // the difference is a real one on this pair: some safety weights are also utility weights
    expect(removed).toBeGreaterThan(0);
    expect(m.masks.en.selected).toBe(total);
    // non-projection tensors are never selected
    for (const n of ck.names().filter((x) => !/_proj\.weight$/.test(x))) expect({ n, sum: mask.read(n).reduce((a, b) => a + b, 0) }).toEqual({ n, sum: 0 });
    mask.close();
    benign.close();
    harmful.close();
    ck.close();
  });

  it('with p = 1 the utility set takes every weight, so every language mask is empty', () => {
    const out = path.join(tmp, 'all-removed');
    const r = runSetdiff(out, '0.3', '1', 'it', '1');
    expect(r.code).toBe(0);
    const m = JSON.parse(r.stdout);
    expect(m.masks.it.selected).toBe(0);
    // the benign mask is the per-matrix top-p of the benign score: here every in-scope weight
    expect(m.masks.benign.selected).toBe(m.n_in_scope);
  });

  it('rejects set-difference fractions without --setdiff, a data-free score, --no-benign and --per row', () => {
    const o = { out: path.join(tmp, 'never'), base: base, attacked: attacked };
    expect(() => resolveOptions({ ...o, q: '0.1' })).toThrow(/--q and --p .* give --setdiff/);
    expect(() => resolveOptions({ ...o, setdiff: 'benign', score: 'weightdiff' })).toThrow(/--score weightdiff uses no calibration data/);
    expect(() => resolveOptions({ ...o, setdiff: 'benign', benign: false })).toThrow(/drop --no-benign/);
    expect(() => resolveOptions({ ...o, setdiff: 'benign', per: 'row' })).toThrow(/--per row/);
    expect(() => resolveOptions({ ...o, setdiff: 'benign', p: '0' })).toThrow(/--p must be a fraction/);
    expect(resolveOptions({ ...o, setdiff: 'benign' }).setdiff).toEqual({ q: 0.05, p: 0.05 });
    expect(fs.existsSync(o.out)).toBe(false);
  });
});
