import * as fs from 'node:fs';
import * as path from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import { loadRun } from '../../src/report/run';
import { loadD3, type D3 } from '../../src/report/d3';
import { deltaHeatmapData, heatmapSvg, scoreMassHeatmapData, selectedFractionHeatmapData, heatmapCsv } from '../../src/report/figures/heatmap';
import { matrixSvg, matrixTex, sirComparison, sirMatrixData, violationMatrixData, matrixCsv } from '../../src/report/figures/matrix';
import { kSweepData, kSweepSvg } from '../../src/report/figures/ksweep';
import { KIND_PALETTE, stackedData, stackedSvg } from '../../src/report/figures/stacked';
import { topRegions, regionsCsv, regionsTex } from '../../src/report/tables';
import { outlineText, toPng } from '../../src/report/render';
import { parseCsv } from '../../src/io/csv';
import { violationRecord, violationRecordsFromTable } from '../../src/eval/conditions';
import { writeSyntheticRun, LAYER_KINDS, OUTSIDE_KINDS } from './synthetic-run';
import { count, readPlainCsv, tmpDir, xmlBalanced } from './helpers';

const LANGS = ['en', 'it', 'zh', 'hi'];
const N_LAYERS = 5;
let dir: string;
let d3: D3;

beforeAll(async () => {
  dir = tmpDir('figures');
  writeSyntheticRun(dir, { langs: LANGS, layers: N_LAYERS });
  d3 = await loadD3();
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const csv = (rel: string) => readPlainCsv(path.join(dir, rel));

describe('figure data', () => {
  it('the ‖Δ‖ heatmap shows ‖Δ‖₂ / ‖W‖₂ by default and ‖Δ‖₂ with absolute, in every layer × kind cell, non-layer tensors listed apart', () => {
    const rel = deltaHeatmapData(loadRun(dir).deltaLayers!);
    const abs = deltaHeatmapData(loadRun(dir).deltaLayers!, true);
    expect(rel.layers).toEqual([0, 1, 2, 3, 4]);
    expect(rel.kinds).toEqual(['q', 'k', 'v', 'o', 'gate', 'up', 'down', 'input_norm', 'post_attn_norm']);
    expect(rel.unit).toBe('relative change ‖Δ‖₂ / ‖W_base‖₂ (unitless)');
    expect(abs.unit).toBe('‖Δ‖₂ (L2 norm of the weight change, in weight units)');
    const rows = csv('delta/layers.csv');
    for (const r of rows) {
      for (const [d, v] of [
        [rel, Number(r.rel_l2)],
        [abs, Number(r.l2)],
      ] as const) {
        if (r.layer === '') expect(d.panels[0].outside.find((o) => o.kind === r.kind)!.value).toBeCloseTo(v, 12);
        else expect(d.panels[0].values[d.layers.indexOf(Number(r.layer))][d.kinds.indexOf(r.kind)]).toBeCloseTo(v, 12);
      }
    }
    expect(rel.panels[0].outside.map((o) => o.kind)).toEqual(OUTSIDE_KINDS.map((k) => k.kind));
  });

  it('two tensors in one cell combine their relative change as √(Σ‖Δ‖²) / √(Σ‖W‖²), not as a mean of ratios', () => {
    const d = deltaHeatmapData([
      { layer: 0, kind: 'q', numel: 4, l1: 0, l2: 3, max_abs: 0, mean_abs: 0, rel_l2: 3 / 10, frac_changed: 1 },
      { layer: 0, kind: 'q', numel: 4, l1: 0, l2: 4, max_abs: 0, mean_abs: 0, rel_l2: 4 / 100, frac_changed: 1 },
    ]);
    expect(d.panels[0].values[0][0]).toBeCloseTo(5 / Math.sqrt(10100), 12);
  });

  it('score and selected fraction heatmaps have one panel per language, in the manifest order; the score is per parameter by default, the mass with absolute', () => {
    const run = loadRun(dir);
    const mean = scoreMassHeatmapData(run.layers!, run.manifest!.languages, 'sil');
    const mass = scoreMassHeatmapData(run.layers!, run.manifest!.languages, 'sil', true);
    const frac = selectedFractionHeatmapData(run.layers!, run.manifest!.languages);
    expect(mean.panels.map((p) => p.label)).toEqual(LANGS);
    expect(frac.panels.map((p) => p.label)).toEqual(LANGS);
    expect(mean.unit).toBe('mean sil score per parameter (Σ score / parameters)');
    expect(mass.unit).toBe("score mass (Σ sil score over the cell's parameters)");
    const rows = csv('layers.csv');
    expect(rows.length).toBe(LANGS.length * (N_LAYERS * LAYER_KINDS.length + OUTSIDE_KINDS.length));
    for (const r of rows) {
      const p = LANGS.indexOf(r.lang);
      if (r.layer === '') continue;
      const i = Number(r.layer);
      const j = mass.kinds.indexOf(r.kind);
      expect(mass.panels[p].values[i][j]).toBeCloseTo(Number(r.score_mass), 12);
      expect(mean.panels[p].values[i][j]).toBeCloseTo(Number(r.score_mass) / Number(r.numel), 15);
      expect(frac.panels[p].values[i][j]).toBeCloseTo(Number(r.selected) / Number(r.numel), 12);
      expect(frac.panels[p].values[i][j]).toBeCloseTo(Number(r.selected_fraction), 6);
    }
  });

  it('the heatmap CSV lists every cell once with its value', () => {
    const run = loadRun(dir);
    const d = scoreMassHeatmapData(run.layers!, run.manifest!.languages, 'sil', true);
    const t = parseCsv(heatmapCsv(d));
    expect(t.header).toEqual(['panel', 'layer', 'kind', 'value']);
    expect(t.rows.length).toBe(run.layers!.length);
    const src = run.layers!.find((r) => r.lang === 'zh' && r.layer === 3 && r.kind === 'down')!;
    expect(Number(t.rows.find((r) => r.panel === 'zh' && r.layer === '3' && r.kind === 'down')!.value)).toBe(src.score_mass);
  });

  it('the SIR matrix takes overlap.csv sir for every language pair, with benign and random as extra columns', () => {
    const run = loadRun(dir);
    const d = sirMatrixData(run.overlap!, run.manifest!.languages);
    expect(d.rows).toEqual(LANGS);
    expect(d.cols).toEqual([...LANGS, 'benign', 'random']);
    const rows = csv('overlap.csv');
    for (const r of rows) {
      const i = d.rows.indexOf(r.a);
      const j = d.cols.indexOf(r.b);
      if (i < 0 || j < 0) continue;
      expect(d.values[i][j]).toBe(Number(r.sir));
    }
    for (let i = 0; i < LANGS.length; i++) expect(d.values[i][i]).toBe(1);
    expect(parseCsv(matrixCsv(d)).rows.map((r) => r['mask a'])).toEqual(LANGS);
  });

  it('the violation matrix has one row per condition, the base first and the frozen attack beside its plain attack, with the rate of each row', () => {
    const run = loadRun(dir);
    const d = violationMatrixData(run.violations!, run.manifest!.languages);
    expect(d.rows).toEqual(['base', 'attack=en', 'attack=en,freeze=intersection', 'attack=it', 'attack=zh', 'attack=hi']);
    expect(d.cols).toEqual(LANGS);
    for (const r of parseCsv(fs.readFileSync(path.join(dir, 'eval/violations.csv'), 'utf8')).rows)
      expect(d.values[d.rows.indexOf(r.condition)][d.cols.indexOf(r.eval_lang)]).toBe(Number(r.violation_rate));
    // the frozen attack's English cell is 45/50, not pooled with the plain attack's
    expect(d.values[2][0]).toBe(0.9);
    expect(d.n![2][0]).toBe(50);
  });

  it('the violation matrix never averages two conditions of one fine-tuning language: 80.6 and 19.4 stay two rows', () => {
    const rec = (condition: string, model: string, sha: string, v: number) => violationRecord({ condition, model, checkpoint_sha256: sha, ft_lang: 'en' }, 'it', 36, v);
    const d = violationMatrixData([rec('attack=en', 'attacked', 'a'.repeat(64), 29), rec('attack=en,freeze=intersection', 'en-frozen-cap', 'b'.repeat(64), 7)]);
    expect(d.rows).toEqual(['attack=en', 'attack=en,freeze=intersection']);
    expect(d.values.map((r) => (r[0]! * 100).toFixed(1))).toEqual(['80.6', '19.4']);
  });

  it('two conditions with one label on different checkpoints are two rows labelled with their hashes', () => {
    const rec = (sha: string, v: number) => violationRecord({ condition: 'attack=en', model: `m-${sha[0]}`, checkpoint_sha256: sha, ft_lang: 'en' }, 'en', 10, v);
    const d = violationMatrixData([rec('a'.repeat(64), 1), rec('b'.repeat(64), 9)]);
    expect(d.rows).toEqual(['attack=en (aaaaaaaa)', 'attack=en (bbbbbbbb)']);
    expect(d.values).toEqual([[0.1], [0.9]]);
  });

  it('every violation cell carries n and the 95 % Wilson interval, in the CSV, the TeX and the figure', async () => {
    const rows = [violationRecord({ condition: 'attack=en', model: 'attacked', checkpoint_sha256: 'a'.repeat(64), ft_lang: 'en' }, 'it', 36, 29)];
    const d = violationMatrixData(rows);
    expect(d.ci![0][0]![0]).toBeCloseTo(0.64972, 5);
    expect(d.ci![0][0]![1]).toBeCloseTo(0.90247, 5);
    const c = parseCsv(matrixCsv(d)).rows[0];
    expect([c.condition_id, c.n, c.violations, Number(c.ci_low).toFixed(4), Number(c.ci_high).toFixed(4)]).toEqual(['attack=en@aaaaaaaaaaaa', '36', '29', '0.6497', '0.9025']);
    expect(matrixTex(d)).toContain('attack=en & 80.6 {\\scriptsize[65.0, 90.2], n=36} \\\\');
    const svg = matrixSvg(d, await loadD3());
    expect(svg).toContain('>65.0–90.2<');
    expect(svg).toContain('>n=36<');
  });

  it('a violations file written before conditions reads each model as its own condition', () => {
    const t = parseCsv('model,ft_lang,eval_lang,n,violations,violation_rate\na,en,it,10,5,0.5\nb,en,it,30,3,0.1\n');
    const d = violationMatrixData(violationRecordsFromTable(t.header, t.rows, 'v.csv'));
    expect(d.rows).toEqual(['model=a', 'model=b']);
    expect(d.values).toEqual([[0.5], [0.1]]);
  });

  it('the k sweep has one series per method and evaluation language, sorted by k, sil first and random last', () => {
    const run = loadRun(dir);
    const d = kSweepData(run.kSweep!, run.manifest!.languages);
    expect(d.methods).toEqual(['sil', 'snip', 'weightdiff', 'wanda', 'random']);
    expect(d.panels.map((p) => p.lang)).toEqual(LANGS);
    for (const r of csv('eval/k_sweep.csv')) {
      const s = d.panels.find((p) => p.lang === r.eval_lang)!.series.find((x) => x.method === r.method)!;
      expect(s.points.find((p) => p.k === Number(r.k))!.rate).toBe(Number(r.violation_rate));
    }
    for (const p of d.panels) for (const s of p.series) expect(s.points.map((x) => x.k)).toEqual([...s.points.map((x) => x.k)].sort((a, b) => a - b));
  });

  it('stacked bar segments are selected(layer, kind) / numel(layer) and sum to the layer’s selected fraction', () => {
    const run = loadRun(dir);
    const d = stackedData(run.layers!, run.manifest!.languages);
    const rows = csv('layers.csv').filter((r) => r.lang === 'it' && r.layer === '2');
    const numel = rows.reduce((s, r) => s + Number(r.numel), 0);
    const selected = rows.reduce((s, r) => s + Number(r.selected), 0);
    const seg = d.panels[1].segments[2];
    expect(seg.reduce((a, b) => a + b, 0)).toBeCloseTo(selected / numel, 12);
    expect(seg[d.kinds.indexOf('gate')]).toBeCloseTo(Number(rows.find((r) => r.kind === 'gate')!.selected) / numel, 12);
  });

  it('top regions rank by mean score per parameter by default, and keep regions.csv ranks (score mass) with absolute', () => {
    const run = loadRun(dir);
    const abs = topRegions(run.regions!, 3, run.manifest!.languages, true);
    expect(abs.map((r) => r.lang)).toEqual(LANGS.flatMap((l) => [l, l, l]));
    expect(abs.map((r) => r.rank)).toEqual(LANGS.flatMap(() => [1, 2, 3]));
    const first = csv('regions.csv').find((r) => r.lang === 'hi' && r.rank === '1')!;
    const mine = abs.find((r) => r.lang === 'hi' && r.rank === 1)!;
    expect(mine.tensor).toBe(first.tensor);
    expect(mine.score_mass).toBe(Number(first.score_mass));
    const per = topRegions(run.regions!, 3, run.manifest!.languages);
    expect(per.map((r) => r.rank)).toEqual(LANGS.flatMap(() => [1, 2, 3]));
    for (const lang of LANGS) {
      const best = Math.max(...run.regions!.filter((r) => r.lang === lang).map((r) => r.score_mass / r.size));
      expect(per.find((r) => r.lang === lang && r.rank === 1)!.score_mass / per.find((r) => r.lang === lang && r.rank === 1)!.size).toBe(best);
    }
    const tex = regionsTex(per);
    expect(count(tex, /\\\\$/m)).toBe(per.length + 1);
    expect(parseCsv(regionsCsv(per)).header.at(-1)).toBe('mean_score');
  });

  it('the SIR colour scale spans the off-diagonal values, the title says |γa ∩ γb| / |γa|, and the finding says when cross-language SIR is not above benign by more than its spread', () => {
    const langs = ['en', 'it', 'fr'];
    const rows: Array<{ a: string; b: string; sir: number; iou: number; cosine: number }> = [];
    const put = (a: string, b: string, sir: number) => rows.push({ a, b, sir, iou: 0, cosine: 0 }, { a: b, b: a, sir, iou: 0, cosine: 0 });
    for (const l of langs) rows.push({ a: l, b: l, sir: 1, iou: 1, cosine: 1 });
    put('en', 'it', 0.5);
    put('en', 'fr', 0.52);
    put('it', 'fr', 0.54);
    for (const l of langs) {
      put(l, 'benign', 0.51);
      put(l, 'random', 0.2);
    }
    const d = sirMatrixData(rows, langs);
    expect(d.title).toBe('Safety information overlap SIR(a, b) = |γa ∩ γb| / |γa|');
    expect(d.scaleDomain).toEqual([0.2, 0.54]);
    // cross mean 0.52, spread √(((0.02)² + 0 + (0.02)²)·2 / 6) = 0.01633; 0.52 − 0.51 = 0.01 is not above it
    const c = sirComparison(rows, langs)!;
    expect(c.cross_mean).toBeCloseTo(0.52, 12);
    expect(c.cross_sd).toBeCloseTo(Math.sqrt((2 * 0.0004 * 2) / 6), 12);
    expect(c.benign_mean).toBeCloseTo(0.51, 12);
    expect(c.above_benign).toBe(false);
    expect(d.note).toBe(c.sentence);
    expect(c.sentence).toContain('is not above the benign-data SIR (0.510) by more than its spread');
    // languages that share clearly more with each other (0.70–0.72) than with benign (0.51)
    const higher = rows.map((r) => (langs.includes(r.a) && langs.includes(r.b) && r.a !== r.b ? { ...r, sir: 0.7 + 0.01 * (r.a.length + (r.b.charCodeAt(0) % 3)) } : r));
    const later = sirComparison(higher, langs)!;
    expect(later.above_benign).toBe(true);
    expect(later.sentence).toContain('more than its spread: the languages share more with each other');
  });
});

describe('figure SVG', () => {
  it('module kinds and methods are drawn in a qualitative palette (Okabe & Ito), one colour per category', () => {
    const run = loadRun(dir);
    const d = stackedData(run.layers!, run.manifest!.languages);
    const svg = stackedSvg(d, d3);
    // the legend: one swatch per kind, in kind order, the palette's colours in turn
    const legend = [...svg.matchAll(/<rect x="[0-9.]+" y="[0-9.]+" width="14" height="14" fill="(#[0-9A-Fa-f]{6})"\/>/g)].map((m) => m[1]);
    const palette = [...KIND_PALETTE, ...d3.chromatic.schemeTableau10];
    expect(d.kinds.length).toBe(9);
    expect(legend).toEqual(palette.slice(0, 9));
    for (const m of svg.matchAll(/class="segment"[^>]*fill="(#[0-9A-Fa-f]{6})"/g)) expect(legend).toContain(m[1]);
  });

  const builders = (): Array<[string, string, number]> => {
    const run = loadRun(dir);
    const mass = scoreMassHeatmapData(run.layers!, run.manifest!.languages);
    const delta = deltaHeatmapData(run.deltaLayers!);
    const sir = sirMatrixData(run.overlap!, run.manifest!.languages);
    const viol = violationMatrixData(run.violations!, run.manifest!.languages);
    const nonNull = (vs: Array<Array<number | null>>) => vs.flat().filter((v) => v !== null).length;
    return [
      ['score-mass', heatmapSvg(mass, d3), LANGS.length * N_LAYERS * LAYER_KINDS.length],
      ['delta-l2', heatmapSvg(delta, d3), N_LAYERS * LAYER_KINDS.length],
      ['sir-matrix', matrixSvg(sir, d3), nonNull(sir.values)],
      ['violation-matrix', matrixSvg(viol, d3), nonNull(viol.values)],
    ];
  };

  it('heatmaps and matrices draw one cell per value, are well-formed XML and parse in resvg', () => {
    for (const [id, svg, cells] of builders()) {
      expect([id, count(svg, /<rect class="cell"/g)]).toEqual([id, cells]);
      expect(xmlBalanced(svg)).toBe(true);
      expect(() => new Resvg(svg)).not.toThrow();
    }
  });

  it('matrices print each value in its cell', () => {
    const run = loadRun(dir);
    const sir = sirMatrixData(run.overlap!, run.manifest!.languages);
    const svg = matrixSvg(sir, d3);
    const printed = [...svg.matchAll(/class="value">([^<]*)</g)].map((m) => m[1]);
    expect(printed).toEqual(
      sir.values
        .flat()
        .filter((v): v is number => v !== null)
        .map((v) => v.toFixed(2)),
    );
  });

  it('the heatmap has a labelled panel per language, layer numbers, kind names and a colorbar with units', () => {
    const run = loadRun(dir);
    const svg = heatmapSvg(selectedFractionHeatmapData(run.layers!, run.manifest!.languages), d3);
    expect(count(svg, /<g class="panel"/g)).toBe(LANGS.length);
    for (const l of LANGS) expect(svg).toContain(`>${l}</text>`);
    for (const k of LAYER_KINDS) expect(svg).toContain(`>${k.kind}</text>`);
    expect(svg).toContain('>4</text>');
    expect(count(svg, /<g class="colorbar">/g)).toBe(1);
    expect(svg).toContain('selected fraction (selected / parameters in the cell)');
  });

  it('the k sweep draws one line per method and language and a marker per point, on a log k axis', () => {
    const run = loadRun(dir);
    const d = kSweepData(run.kSweep!, run.manifest!.languages);
    const svg = kSweepSvg(d, d3);
    expect(count(svg, /<path class="series"/g)).toBe(5 * LANGS.length);
    expect(svg).toContain('log scale');
    // points at k = 0.001, 0.01, 0.05, 0.1: the two decades are equally wide on the axis
    const first = /<path class="series" d="([^"]*)"/.exec(svg)![1];
    const xs = [...first.matchAll(/[ML]([\d.]+) /g)].map((m) => Number(m[1]));
    expect(d.panels[0].series[0].points.map((p) => p.k).slice(0, 4)).toEqual([0.001, 0.01, 0.05, 0.1]);
    expect(xs[1] - xs[0]).toBeCloseTo(xs[3] - xs[1], 1);
    expect(xs[2] - xs[1]).toBeCloseTo((xs[1] - xs[0]) * Math.log10(5), 1);
    expect(xmlBalanced(svg)).toBe(true);
  });

  it('the stacked bars draw one segment per non-zero layer × kind share', () => {
    const run = loadRun(dir);
    const d = stackedData(run.layers!, run.manifest!.languages);
    const svg = stackedSvg(d, d3);
    expect(count(svg, /<rect class="segment"/g)).toBe(d.panels.flatMap((p) => p.segments.flat()).filter((v) => v > 0).length);
  });

  it('outlined SVG has no text left, keeps the size, and the PNG is twice as large in each direction', () => {
    const run = loadRun(dir);
    const svg = matrixSvg(sirMatrixData(run.overlap!, run.manifest!.languages), d3);
    const out = outlineText(svg);
    expect(out).not.toMatch(/<text/);
    expect(xmlBalanced(out)).toBe(true);
    const w = Number(/width="(\d+)"/.exec(svg)![1]);
    const h = Number(/height="(\d+)"/.exec(svg)![1]);
    expect(out).toContain(`width="${w}" height="${h}"`);
    const png = toPng(svg);
    expect(png.readUInt32BE(16)).toBe(2 * w);
    expect(png.readUInt32BE(20)).toBe(2 * h);
  });

  it('the LaTeX tabular has a header, one row per language and the printed values', () => {
    const run = loadRun(dir);
    const d = sirMatrixData(run.overlap!, run.manifest!.languages);
    const tex = matrixTex(d);
    expect(tex).toContain(`\\begin{tabular}{l${'r'.repeat(LANGS.length + 2)}}`);
    const body = tex.split('\n').filter((l) => LANGS.some((x) => l.startsWith(`${x} &`)));
    expect(body.length).toBe(LANGS.length);
    expect(
      body[0]
        .split(' & ')
        .slice(1)
        .map((c) => c.replace(' \\\\', '')),
    ).toEqual(d.values[0].map((v) => v!.toFixed(2)));
  });
});
