/**
 * `sil report`'s core: from a loaded run folder to the report's files. Each figure names the run
 * files it needs; a figure whose files are absent is skipped and listed (with the files) instead.
 * Per figure: `<id>.svg` (text as paths), `<id>.png` (2×), `<id>.csv` (its data), and for the
 * matrices `<id>.tex`; then `top-regions.{csv,tex}` and `report.html`.
 */
import * as path from 'node:path';
import { loadD3, type D3 } from './d3';
import { RUN_FILES, type RunData, type RunFileKey } from './run';
import { deltaHeatmapData, heatmapCsv, heatmapSvg, scoreMassHeatmapData, selectedFractionHeatmapData } from './figures/heatmap';
import { matrixCsv, matrixSvg, matrixTex, sirMatrixData, violationMatrixData } from './figures/matrix';
import { kSweepCsv, kSweepData, kSweepSvg } from './figures/ksweep';
import { stackedCsv, stackedData, stackedSvg } from './figures/stacked';
import { matrixHtml, regionsCsv, regionsHtml, regionsTex, topRegions } from './tables';
import { outlineText, toPng, toPngWidth } from './render';
import { reportHtml } from './html';
import { esc } from './svg';
import { isLanguage } from './order';
import { toPdf } from './pdf';
import { SILENT, type Progress } from '../progress';

import { DEFAULT_FORMATS, type Format, type Width } from './formats';
import type { RenderedFigure, SkippedFigure } from './figure';

export { DEFAULT_FORMATS, FORMATS, WIDTHS, type Format, type Width } from './formats';
export type { RenderedFigure, SkippedFigure } from './figure';
/** physical width in inches, and the layout width in SVG units that keeps 10–11 unit text at ≥ 6 pt */
export const WIDTH_SPEC: Record<Width, { inches: number; layout: number }> = { column: { inches: 3.5, layout: 460 }, page: { inches: 7, layout: 920 } };
/** PNG resolution at a physical width */
export const PNG_DPI = 300;

export interface Artifact {
  /** file name inside the output folder */
  file: string;
  content: string | Buffer;
}

export interface Report {
  figures: RenderedFigure[];
  skipped: SkippedFigure[];
  regionsHtml?: string;
  artifacts: Artifact[];
}

/** How figures are drawn: their layout width, and normalised or absolute quantities. */
export interface FigureOptions {
  /** layout width in SVG units (panels per row follow from it) */
  maxWidth?: number;
  /** absolute sums (score mass, ‖Δ‖₂, regions by score mass) instead of per-parameter values */
  absolute?: boolean;
  /** languages and their order */
  langs?: string[];
}

interface FigureSpec {
  id: string;
  title: string;
  needs: RunFileKey[];
  caption: string | ((run: RunData, o: FigureOptions) => string);
  build(run: RunData, d3: D3, o: FigureOptions): Omit<RenderedFigure, 'svg' | 'id' | 'title' | 'caption'>;
}

const langsOf = (run: RunData, o: FigureOptions) => o.langs ?? run.manifest?.languages;

function scoreName(run: RunData): string {
  const o = run.manifest?.options;
  const s = o && typeof o === 'object' ? (o as Record<string, unknown>).score : undefined;
  return typeof s === 'string' ? s : 'score';
}

export const FIGURES: FigureSpec[] = [
  {
    id: 'delta-l2',
    title: 'Weight change per layer × module kind',
    needs: ['deltaLayers'],
    caption: (_r, o) =>
      o.absolute
        ? 'L2 norm ‖Δ‖₂ of the weight change θ_attacked − θ_base per decoder layer and module kind, in weight units (delta/layers.csv).'
        : 'Relative weight change ‖Δ‖₂ / ‖W_base‖₂ per decoder layer and module kind: unitless, so large matrices do not stand out by size (delta/layers.csv; --absolute for ‖Δ‖₂).',
    build: (run, d3, o) => {
      const d = deltaHeatmapData(run.deltaLayers ?? [], o.absolute);
      return { sourceSvg: heatmapSvg(d, d3, o.maxWidth), csv: heatmapCsv(d) };
    },
  },
  {
    id: 'score-mass',
    title: 'Score per layer × module kind, by language',
    needs: ['layers'],
    caption: (run, o) =>
      o.absolute
        ? `Score mass (Σ ${scoreName(run)} score) in each layer × module cell, one panel per language, one colour scale (layers.csv).`
        : `Mean ${scoreName(run)} score per parameter in each layer × module cell (score mass / parameters), one panel per language, one colour scale; a cell is not bright because its matrix is large (layers.csv; --absolute for the sums).`,
    build: (run, d3, o) => {
      const d = scoreMassHeatmapData(run.layers ?? [], langsOf(run, o), scoreName(run), o.absolute);
      return { sourceSvg: heatmapSvg(d, d3, o.maxWidth), csv: heatmapCsv(d) };
    },
  },
  {
    id: 'selected-fraction',
    title: 'Selected fraction per layer × module kind, by language',
    needs: ['layers'],
    caption: 'Fraction of each cell’s parameters in the language’s top-k mask (layers.csv).',
    build: (run, d3, o) => {
      const d = selectedFractionHeatmapData(run.layers ?? [], langsOf(run, o));
      return { sourceSvg: heatmapSvg(d, d3, o.maxWidth), csv: heatmapCsv(d) };
    },
  },
  {
    id: 'selected-by-layer',
    title: 'Selected fraction per layer, stacked by module kind',
    needs: ['layers'],
    caption: 'Each bar is the fraction of a layer’s parameters in the mask; segments split it by module kind, in a qualitative palette (layers.csv).',
    build: (run, d3, o) => {
      const d = stackedData(run.layers ?? [], langsOf(run, o));
      return { sourceSvg: stackedSvg(d, d3, o.maxWidth), csv: stackedCsv(d) };
    },
  },
  {
    id: 'sir-matrix',
    title: 'SIR between languages, with benign and random baselines',
    needs: ['overlap'],
    caption:
      'SIR(a, b) = |γa ∩ γb| / |γa|: row mask a, column mask b. Baselines: benign = the mask of the same score on benign prompts, random = a random mask of the same size (SIR ≈ k by construction). The colour scale spans the off-diagonal values; the diagonal (1 by definition) is grey (overlap.csv).',
    build: (run, d3, o) => {
      const d = sirMatrixData(run.overlap ?? [], langsOf(run, o));
      return { sourceSvg: matrixSvg(d, d3), csv: matrixCsv(d), tex: matrixTex(d), tableHtml: matrixHtml(d), finding: d.note };
    },
  },
  {
    id: 'violation-matrix',
    title: 'Violation rate: condition × evaluation language',
    needs: ['violations'],
    caption:
      'Share of harmful prompts answered (in %) by each evaluated condition (base, attacks, frozen or stitched models; one row each, never pooled), per evaluation language, with the 95 % Wilson interval and n in every cell (eval/violations.csv).',
    build: (run, d3, o) => {
      const d = violationMatrixData(run.violations ?? [], langsOf(run, o));
      return { sourceSvg: matrixSvg(d, d3), csv: matrixCsv(d), tex: matrixTex(d), tableHtml: matrixHtml(d) };
    },
  },
  {
    id: 'k-sweep',
    title: 'Violation rate versus k',
    needs: ['kSweep'],
    caption: 'Violation rate against the fraction k of parameters selected by each method, k on a log axis (eval/k_sweep.csv).',
    build: (run, d3, o) => {
      const d = kSweepData(run.kSweep ?? [], langsOf(run, o));
      return { sourceSvg: kSweepSvg(d, d3, o.maxWidth), csv: kSweepCsv(d) };
    },
  },
];

/**
 * The run restricted to `langs`: rows of other languages dropped (overlap rows are kept when both
 * masks are among the languages or baselines; violation and k-sweep rows by evaluation language).
 */
export function restrictRun(run: RunData, langs: readonly string[]): RunData {
  const keep = (l: string) => langs.includes(l);
  const keepMask = (m: string) => keep(m) || !isLanguage(m);
  return {
    ...run,
    layers: run.layers?.filter((r) => keep(r.lang)),
    regions: run.regions?.filter((r) => keep(r.lang)),
    overlap: run.overlap?.filter((r) => keepMask(r.a) && keepMask(r.b)),
    violations: run.violations?.filter((r) => keep(r.eval_lang) && (r.ft_lang === 'none' || !isLanguage(r.ft_lang) || keep(r.ft_lang))),
    kSweep: run.kSweep?.filter((r) => keep(r.eval_lang)),
  };
}

/** The SVG at a physical width (in inches, height in proportion; the viewBox keeps the drawing). */
export function atWidth(svg: string, inches: number): string {
  return svg.replace(/^<svg\b([^>]*)>/, (root, attrs: string) => {
    const w = Number(/\swidth="([0-9.]+)"/.exec(attrs)?.[1]);
    const h = Number(/\sheight="([0-9.]+)"/.exec(attrs)?.[1]);
    if (!(w > 0 && h > 0)) return root;
    const hi = (inches * h) / w;
    return `<svg${attrs.replace(/\swidth="[0-9.]+"/, ` width="${inches}in"`).replace(/\sheight="[0-9.]+"/, ` height="${Number(hi.toFixed(4))}in"`)}>`;
  });
}

/** Marks the outlined SVG's root as a report figure, with its id and an accessible name. */
function tagRoot(svg: string, id: string, title: string): string {
  return svg.replace(/^<svg /, `<svg id="${esc(id)}" class="sil-figure" role="img" aria-label="${esc(title)}" `);
}

export interface BuildOptions {
  formats?: Iterable<Format>;
  /** regions per language in the top-regions table */
  top?: number;
  progress?: Progress;
  /** label of the run in the HTML title (default: the folder's name) */
  name?: string;
  /** lay figures out for one column (3.5 in) or a page (7 in) of a paper; default: free width, PNG at 2× */
  width?: Width;
  /** absolute sums instead of per-parameter values */
  absolute?: boolean;
  /** languages and their order (default: the run's) */
  langs?: string[];
}

/** Builds every figure the run's files allow, and the files of the requested formats. */
export async function buildReport(input: RunData, o: BuildOptions = {}): Promise<Report> {
  let run = input;
  const formats = new Set<Format>(o.formats ?? DEFAULT_FORMATS);
  if (o.langs) run = restrictRun(run, o.langs);
  const fo: FigureOptions = { maxWidth: o.width ? WIDTH_SPEC[o.width].layout : undefined, absolute: o.absolute, langs: o.langs };
  const progress = o.progress ?? SILENT;
  const d3 = await loadD3();
  const figures: RenderedFigure[] = [];
  const skipped: SkippedFigure[] = [];
  const artifacts: Artifact[] = [];
  const has = (k: RunFileKey) => run[k as keyof RunData] !== undefined && !(Array.isArray(run[k as keyof RunData]) && (run[k as keyof RunData] as unknown[]).length === 0);

  progress.start(FIGURES.length + 1, 'report');
  for (const spec of FIGURES) {
    const missing = spec.needs.filter((k) => !has(k)).map((k) => (run.present.includes(RUN_FILES[k]) ? `${RUN_FILES[k]} (no rows)` : RUN_FILES[k]));
    if (missing.length) {
      skipped.push({ id: spec.id, title: spec.title, missing });
      progress.tick();
      continue;
    }
    const built = spec.build(run, d3, fo);
    const sized = o.width ? atWidth(built.sourceSvg, WIDTH_SPEC[o.width].inches) : built.sourceSvg;
    const caption = typeof spec.caption === 'function' ? spec.caption(run, fo) : spec.caption;
    const fig: RenderedFigure = { id: spec.id, title: spec.title, caption: built.finding ? `${caption} ${built.finding}` : caption, ...built, svg: tagRoot(outlineText(sized), spec.id, spec.title) };
    figures.push(fig);
    if (formats.has('svg')) artifacts.push({ file: `${fig.id}.svg`, content: fig.svg });
    if (formats.has('png')) artifacts.push({ file: `${fig.id}.png`, content: o.width ? toPngWidth(built.sourceSvg, Math.round(WIDTH_SPEC[o.width].inches * PNG_DPI)) : toPng(built.sourceSvg, 2) });
    if (formats.has('pdf')) artifacts.push({ file: `${fig.id}.pdf`, content: await toPdf(fig.svg) });
    if (formats.has('csv')) artifacts.push({ file: `${fig.id}.csv`, content: fig.csv });
    if (formats.has('tex') && fig.tex) artifacts.push({ file: `${fig.id}.tex`, content: fig.tex });
    progress.tick();
  }

  let regionsTable: string | undefined;
  if (run.regions && run.regions.length) {
    const top = topRegions(run.regions, o.top ?? 10, o.langs ?? run.manifest?.languages, o.absolute);
    regionsTable = regionsHtml(top);
    if (formats.has('csv')) artifacts.push({ file: 'top-regions.csv', content: regionsCsv(top) });
    if (formats.has('tex')) artifacts.push({ file: 'top-regions.tex', content: regionsTex(top) });
  } else {
    skipped.push({ id: 'top-regions', title: 'Top regions', missing: [run.present.includes(RUN_FILES.regions) ? `${RUN_FILES.regions} (no rows)` : RUN_FILES.regions] });
  }
  if (formats.has('html')) {
    const name = o.name ?? path.basename(path.resolve(run.dir));
    artifacts.push({ file: 'report.html', content: reportHtml({ name, run, figures, skipped, regionsTable, formats }) });
  }
  progress.tick();
  progress.stop();
  return { figures, skipped, regionsHtml: regionsTable, artifacts };
}
