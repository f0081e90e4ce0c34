import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeReport } from '../../src/report';
import { loadRun } from '../../src/report/run';
import { runSil } from '../helpers/cli';
import { parseCsv } from '../../src/io/csv';
import { writeSyntheticRun } from './synthetic-run';
import { count, tmpDir } from './helpers';
import { HF_TINY } from '../helpers/fixtures';

const FIGURE_IDS = ['delta-l2', 'score-mass', 'selected-fraction', 'selected-by-layer', 'sir-matrix', 'violation-matrix', 'k-sweep'];

describe('sil report', () => {
  let root: string;
  beforeAll(() => (root = tmpDir('report')));
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('report.html shows the provenance legibly: full content hashes, the command line, package, backend in words, no empty rows and no raw JSON', async () => {
    const run = path.join(root, 'provenance');
    writeSyntheticRun(run);
    const r = await writeReport(run, undefined, { formats: ['html'] });
    const html = fs.readFileSync(path.join(r.outDir, 'report.html'), 'utf8');
    const table = html.slice(html.indexOf('<table class="kv">'), html.indexOf('</table>', html.indexOf('<table class="kv">')));
    const rows = [...table.matchAll(/<tr><th>(.*?)<\/th><td>(.*?)<\/td><\/tr>/g)].map((m) => [m[1], m[2].replace(/<[^>]+>/g, '')]);
    expect(rows.length).toBeGreaterThan(10);
    for (const [k, v] of rows) {
      expect(v.trim()).not.toBe('');
      expect(`${k} ${v}`).not.toMatch(/[{\[]"|":|\bnull\b|\bundefined\b/);
    }
    const get = (k: string) => rows.find((x) => x[0] === k)?.[1];
    expect(get('command line')).toBe("sil locate --base weights/demo/base --attacked weights/demo/attacked --out reports/run --system 'You are helpful.'");
    expect(get('package')).toBe('sil 0.1.0 (Node v20.0.0)');
    expect(get('input base')).toBe(`weights/demo/basedata sha256 ${'c'.repeat(64)} header sha256 ${'a'.repeat(64)}`);
    expect(get('input attacked')).toContain(`data sha256 ${'d'.repeat(64)}`);
    expect(get('input tokenizer')).toBe(`weights/demo/basesha256 ${'e'.repeat(64)} (tokenizer.json, tokenizer_config.json)`);
    expect(get('input benign')).toBeUndefined();
    expect(get('backend')).toBe('wasm × 2 (workers), 2 wasm worker(s) — auto chose wasm');
    expect(get('options')).toBe('--score sil  --k 0.2  --scope linear  --per global');
    // the evaluation conditions, one row each, with their checkpoint hashes
    const cond = html.slice(html.indexOf('<table class="data" id="conditions">'));
    expect(count(cond.slice(0, cond.indexOf('</table>')), /<tr><td>/g)).toBe(6);
    expect(cond).toContain(`<td>attack=en,freeze=intersection</td><td>attacked-en-frozen</td><td>en</td><td><code>${'f'.repeat(64)}</code></td>`);
  });

  it('a complete run folder gives every figure as SVG, PNG and CSV, LaTeX for the matrices and one self-contained report.html', async () => {
    const run = path.join(root, 'full');
    writeSyntheticRun(run);
    const r = await writeReport(run);
    expect(r.outDir).toBe(path.join(run, 'report'));
    expect(r.figures.map((f) => f.id)).toEqual(FIGURE_IDS);
    expect(r.skipped).toEqual([]);
    const files = fs.readdirSync(r.outDir).sort();
    const expected = [
      ...FIGURE_IDS.flatMap((id) => [`${id}.svg`, `${id}.png`, `${id}.csv`]),
      'sir-matrix.tex',
      'violation-matrix.tex',
      'top-regions.csv',
      'top-regions.tex',
      'report.html',
      '.sil-output.json',
    ].sort();
    expect(files).toEqual(expected);
    const html = fs.readFileSync(path.join(r.outDir, 'report.html'), 'utf8');
    expect(count(html, /<svg id="[^"]+" class="sil-figure"/g)).toBe(FIGURE_IDS.length);
    expect(html).not.toMatch(/<text[\s>]/);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).not.toMatch(/<script|@import|url\((?!#)/);
    expect(html).toContain('header sha256');
    expect(html).toContain('id="top-regions-table"');
    expect(html).not.toContain('Missing from this run');
    // the PNG is a PNG
    expect(fs.readFileSync(path.join(r.outDir, 'sir-matrix.png')).subarray(1, 4).toString()).toBe('PNG');
    // the regions CSV has 10 rows per language
    expect(parseCsv(fs.readFileSync(path.join(r.outDir, 'top-regions.csv'), 'utf8')).rows.length).toBe(40);
  });

  it('a run folder with only locate files renders what it can and says in stdout and in the HTML what is missing', async () => {
    const run = path.join(root, 'partial');
    writeSyntheticRun(run, { withEval: false, omit: ['delta/layers.csv', 'overlap.csv', 'manifest.json'] });
    const out = path.join(root, 'partial-out');
    const { code, out: stdout } = await runSil('report', run, '--out', out);
    expect(code).toBe(0);
    expect(stdout).toMatch(/missing from .*: manifest\.json, delta\/layers\.csv, overlap\.csv, eval\/violations\.csv, eval\/k_sweep\.csv/);
    expect(stdout).toContain('not drawn: SIR between languages, with benign and random baselines (needs overlap.csv)');
    expect(stdout).toContain('not drawn: Violation rate versus k (needs eval/k_sweep.csv)');
    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    expect(html).toContain('Missing from this run');
    for (const f of ['delta/layers.csv', 'overlap.csv', 'eval/violations.csv', 'eval/k_sweep.csv', 'manifest.json']) expect(html).toContain(`<code>${f}</code>`);
    expect(count(html, /class="sil-figure"/g)).toBe(3);
    expect(
      fs
        .readdirSync(out)
        .filter((f) => f.endsWith('.svg'))
        .sort(),
    ).toEqual(['score-mass.svg', 'selected-by-layer.svg', 'selected-fraction.svg']);
  });

  it('a folder written by sil delta alone (tables at the top level) gives the ‖Δ‖ heatmap', async () => {
    const run = path.join(root, 'delta-only');
    writeSyntheticRun(run, { withEval: false });
    fs.renameSync(path.join(run, 'delta/layers.csv'), path.join(run, 'layers.csv'));
    for (const f of ['regions.csv', 'overlap.csv']) fs.rmSync(path.join(run, f));
    const r = await writeReport(run, path.join(root, 'delta-only-out'), { formats: ['svg', 'csv'] });
    expect(r.figures.map((f) => f.id)).toEqual(['delta-l2']);
    expect(fs.readdirSync(r.outDir).sort()).toEqual(['.sil-output.json', 'delta-l2.csv', 'delta-l2.svg']);
  });

  it('refuses a run folder that is not there, or holds none of the run files, and creates or writes nothing', async () => {
    const missing = path.join(root, 'no-such-run');
    const r = await runSil('report', missing, '--format', 'csv');
    expect(r.code).toBe(2);
    expect(r.err).toBe(`sil: error [FILE_NOT_FOUND]: run folder not found (file ${missing})\n`);
    expect(fs.existsSync(missing)).toBe(false);
    const empty = path.join(root, 'empty-run');
    fs.mkdirSync(empty);
    const e = await runSil('report', empty, '--format', 'csv');
    expect(e.code).toBe(2);
    expect(e.err).toMatch(/^sil: error \[FILE_NOT_FOUND\]: not a run folder: none of the files sil report reads is there \(manifest\.json, .*\(file .*empty-run\)\n$/);
    expect(fs.readdirSync(empty)).toEqual([]);
  });

  it('reads the layers.csv files of earlier versions (per-command columns) into the same tables and figures', async () => {
    const now = path.join(root, 'layers-now');
    const old = path.join(root, 'layers-old');
    writeSyntheticRun(now, { withEval: false });
    writeSyntheticRun(old, { withEval: false, legacyLayers: true });
    expect(fs.readFileSync(path.join(now, 'layers.csv'), 'utf8')).not.toBe(fs.readFileSync(path.join(old, 'layers.csv'), 'utf8'));
    const a = loadRun(now);
    const b = loadRun(old);
    expect(a.deltaLayers!.length).toBeGreaterThan(0);
    expect(a.layers!.length).toBeGreaterThan(0);
    expect(b.deltaLayers).toEqual(a.deltaLayers);
    expect(b.layers).toEqual(a.layers);
    const ra = await writeReport(now, path.join(root, 'layers-now-out'), { formats: ['csv'] });
    const rb = await writeReport(old, path.join(root, 'layers-old-out'), { formats: ['csv'] });
    for (const f of ['delta-l2.csv', 'score-mass.csv', 'selected-fraction.csv', 'selected-by-layer.csv']) {
      expect(fs.readFileSync(path.join(rb.outDir, f), 'utf8')).toBe(fs.readFileSync(path.join(ra.outDir, f), 'utf8'));
    }
  });

  it('--format writes only the requested formats, and a second report replaces the first with --force', async () => {
    const run = path.join(root, 'formats');
    writeSyntheticRun(run);
    const out = path.join(root, 'formats-out');
    expect((await runSil('report', run, '--out', out, '--format', 'png,tex')).code).toBe(0);
    expect(fs.readdirSync(out).filter((f) => !f.endsWith('.png') && !f.endsWith('.tex'))).toEqual(['.sil-output.json']);
    expect((await runSil('report', run, '--out', out, '--format', 'csv')).code).toBe(2);
    expect((await runSil('report', run, '--out', out, '--format', 'csv', '--force')).code).toBe(0);
    expect(fs.readdirSync(out).every((f) => f.endsWith('.csv') || f === '.sil-output.json')).toBe(true);
    expect(fs.readdirSync(root).filter((f) => f.startsWith('.tmp-'))).toEqual([]);
  });

  it('--width column lays every figure out for 3.5 in: SVG 3.5 in wide, PNG 1050 px (300 dpi), a one-page vector PDF 252 pt wide', async () => {
    const run = path.join(root, 'column');
    writeSyntheticRun(run);
    const r = await writeReport(run, undefined, { width: 'column', formats: ['svg', 'png', 'pdf'] });
    expect(r.figures.map((f) => f.id)).toEqual(FIGURE_IDS);
    const { Resvg } = await import('@resvg/resvg-js');
    for (const id of FIGURE_IDS) {
      const svg = fs.readFileSync(path.join(r.outDir, `${id}.svg`), 'utf8');
      // 3.5 in at 96 px per inch, as resvg writes it
      expect(new Resvg(svg).width).toBeCloseTo(336, 0);
      const png = fs.readFileSync(path.join(r.outDir, `${id}.png`));
      expect(png.readUInt32BE(16)).toBe(1050);
      const pdf = fs.readFileSync(path.join(r.outDir, `${id}.pdf`));
      expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
      const box = /\/MediaBox \[0 0 ([0-9.]+) ([0-9.]+)\]/.exec(pdf.toString('latin1'))!;
      expect(Number(box[1])).toBeCloseTo(252, 3);
      expect(pdf.toString('latin1')).not.toContain('/Subtype /Image');
      expect(count(pdf.toString('latin1'), /\/Type \/Page\b/g)).toBe(1);
    }
  });

  it('--langs keeps those languages, in that order, in every figure', async () => {
    const run = path.join(root, 'langs');
    writeSyntheticRun(run);
    const r = await writeReport(run, undefined, { langs: ['hi', 'en'], formats: ['csv'] });
    const sir = parseCsv(fs.readFileSync(path.join(r.outDir, 'sir-matrix.csv'), 'utf8'));
    expect(sir.rows.map((x) => x['mask a'])).toEqual(['hi', 'en']);
    expect(sir.header).toEqual(['mask a', 'hi', 'en', 'benign', 'random']);
    const mass = parseCsv(fs.readFileSync(path.join(r.outDir, 'score-mass.csv'), 'utf8'));
    expect([...new Set(mass.rows.map((x) => x.panel))]).toEqual(['hi', 'en']);
    const top = parseCsv(fs.readFileSync(path.join(r.outDir, 'top-regions.csv'), 'utf8'));
    expect([...new Set(top.rows.map((x) => x.lang))]).toEqual(['hi', 'en']);
  });

  it('rejects an unknown format and a missing run folder with a clear error, writing nothing', async () => {
    const out = path.join(root, 'never');
    const bad = await runSil('report', path.join(root, 'full'), '--out', out, '--format', 'svg,eps');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('INVALID_ARGUMENT');
    expect(bad.err).toContain('svg,png,html,csv,tex,pdf');
    const width = await runSil('report', path.join(root, 'full'), '--out', out, '--width', 'poster');
    expect(width.code).toBe(2);
    expect(width.err).toContain('--width: expected column or page, found "poster"');
    const none = await runSil('report', path.join(root, 'no-such-run'), '--out', out);
    expect(none.code).toBe(2);
    expect(none.err).toContain('FILE_NOT_FOUND');
    expect(fs.existsSync(out)).toBe(false);
  });

  it('a malformed table fails with the file, row and column named, and no output', async () => {
    const run = path.join(root, 'bad');
    writeSyntheticRun(run, { withEval: false });
    fs.appendFileSync(path.join(run, 'overlap.csv'), 'en,it,zero,0.1,0.2\n');
    const out = path.join(root, 'bad-out');
    const r = await runSil('report', run, '--out', out);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/column sir: expected a number from 0 to 1, found "zero".*overlap\.csv/);
    expect(fs.existsSync(out)).toBe(false);
  });

  const BASE = path.join(HF_TINY, 'llama3-tiny-bf16/base');
  const real = fs.existsSync(BASE) ? it : it.skip;
  real('reports on a real sil delta run of the tiny Llama fixture, one ‖Δ‖ cell per layer × kind', async () => {
    const run = path.join(root, 'real');
    const d = await runSil('delta', '--base', BASE, '--attacked', path.join(HF_TINY, 'llama3-tiny-bf16/attacked'), '--out', path.join(run, 'delta'), '--threads', '0', '--json');
    expect(d.code).toBe(0);
    const r = await runSil('report', run, '--format', 'svg,csv,html');
    expect(r.code).toBe(0);
    expect(r.out).toContain('not drawn: Score per layer × module kind, by language (needs layers.csv)');
    const delta = parseCsv(fs.readFileSync(path.join(run, 'delta/layers.csv'), 'utf8')).rows;
    const fig = parseCsv(fs.readFileSync(path.join(run, 'report/delta-l2.csv'), 'utf8')).rows;
    expect(fig.length).toBe(delta.length);
    for (const row of delta) {
      const hit = fig.find((f) => f.layer === row.layer && f.kind === row.kind)!;
      // the default is the relative change ‖Δ‖₂ / ‖W‖₂
      expect(Number(hit.value)).toBeCloseTo(Number(row.rel_l2), 10);
    }
  });
});
