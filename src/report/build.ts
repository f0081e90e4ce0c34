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
import { outlineText, toPng } from './render';
import { reportHtml } from './html';
import { esc } from './svg';
import { SILENT, type Progress } from '../progress';

export const FORMATS = ['svg', 'png', 'html', 'csv', 'tex'] as const;
export type Format = (typeof FORMATS)[number];

export interface Artifact {
  /** file name inside the output folder */
  file: string;
  content: string | Buffer;
}

export interface RenderedFigure {
  id: string;
  title: string;
  caption: string;
  /** SVG as built, with <text> (what the tests inspect) */
  sourceSvg: string;
  /** SVG with text converted to paths (what is written and inlined) */
  svg: string;
  csv: string;
  tex?: string;
  /** an HTML table of the same numbers, for matrices */
  tableHtml?: string;
}

export interface SkippedFigure {
  id: string;
  title: string;
  missing: string[];
}

export interface Report {
  figures: RenderedFigure[];
  skipped: SkippedFigure[];
  regionsHtml?: string;
  artifacts: Artifact[];
}

interface FigureSpec {
  id: string;
  title: string;
  needs: RunFileKey[];
  caption: string;
  build(run: RunData, d3: D3): Omit<RenderedFigure, 'svg' | 'id' | 'title' | 'caption'>;
}

function scoreName(run: RunData): string {
  const o = run.manifest?.options;
  const s = o && typeof o === 'object' ? (o as Record<string, unknown>).score : undefined;
  return typeof s === 'string' ? s : 'score';
}

export const FIGURES: FigureSpec[] = [
  {
    id: 'delta-l2',
    title: '‖Δ‖₂ per layer × module kind',
    needs: ['deltaLayers'],
    caption: 'L2 norm of the weight change θ_attacked − θ_base per decoder layer and module kind (delta/layers.csv).',
    build: (run, d3) => {
      const d = deltaHeatmapData(run.deltaLayers ?? []);
      return { sourceSvg: heatmapSvg(d, d3), csv: heatmapCsv(d) };
    },
  },
  {
    id: 'score-mass',
    title: 'Score mass per layer × module kind, by language',
    needs: ['layers'],
    caption: 'Sum of the localisation scores in each layer × module cell, one panel per language, one colour scale (layers.csv).',
    build: (run, d3) => {
      const d = scoreMassHeatmapData(run.layers ?? [], run.manifest?.languages, scoreName(run));
      return { sourceSvg: heatmapSvg(d, d3), csv: heatmapCsv(d) };
    },
  },
  {
    id: 'selected-fraction',
    title: 'Selected fraction per layer × module kind, by language',
    needs: ['layers'],
    caption: 'Fraction of each cell’s parameters in the language’s top-k mask (layers.csv).',
    build: (run, d3) => {
      const d = selectedFractionHeatmapData(run.layers ?? [], run.manifest?.languages);
      return { sourceSvg: heatmapSvg(d, d3), csv: heatmapCsv(d) };
    },
  },
  {
    id: 'selected-by-layer',
    title: 'Selected fraction per layer, stacked by module kind',
    needs: ['layers'],
    caption: 'Each bar is the fraction of a layer’s parameters in the mask; segments split it by module kind (layers.csv).',
    build: (run, d3) => {
      const d = stackedData(run.layers ?? [], run.manifest?.languages);
      return { sourceSvg: stackedSvg(d, d3), csv: stackedCsv(d) };
    },
  },
  {
    id: 'sir-matrix',
    title: 'SIR between languages, with benign and random baselines',
    needs: ['overlap'],
    caption: 'SIR(a, b) = |γa ∩ γb| / k: row language a, column language b; benign = mask from benign calibration data, random = a random mask (SIR ≈ k by construction) (overlap.csv).',
    build: (run, d3) => {
      const d = sirMatrixData(run.overlap ?? [], run.manifest?.languages);
      return { sourceSvg: matrixSvg(d, d3), csv: matrixCsv(d), tex: matrixTex(d), tableHtml: matrixHtml(d) };
    },
  },
  {
    id: 'violation-matrix',
    title: 'Violation rate: fine-tuning language × evaluation language',
    needs: ['violations'],
    caption: 'Share of harmful prompts answered (in %) after fine-tuning in the row language, evaluated in the column language; none = the base model (eval/violations.csv).',
    build: (run, d3) => {
      const d = violationMatrixData(run.violations ?? [], run.manifest?.languages);
      return { sourceSvg: matrixSvg(d, d3), csv: matrixCsv(d), tex: matrixTex(d), tableHtml: matrixHtml(d) };
    },
  },
  {
    id: 'k-sweep',
    title: 'Violation rate versus k',
    needs: ['kSweep'],
    caption: 'Violation rate against the fraction k of parameters selected by each method, k on a log axis (eval/k_sweep.csv).',
    build: (run, d3) => {
      const d = kSweepData(run.kSweep ?? [], run.manifest?.languages);
      return { sourceSvg: kSweepSvg(d, d3), csv: kSweepCsv(d) };
    },
  },
];

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
}

/** Builds every figure the run's files allow, and the files of the requested formats. */
export async function buildReport(run: RunData, o: BuildOptions = {}): Promise<Report> {
  const formats = new Set<Format>(o.formats ?? FORMATS);
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
    const built = spec.build(run, d3);
    const fig: RenderedFigure = { id: spec.id, title: spec.title, caption: spec.caption, ...built, svg: tagRoot(outlineText(built.sourceSvg), spec.id, spec.title) };
    figures.push(fig);
    if (formats.has('svg')) artifacts.push({ file: `${fig.id}.svg`, content: fig.svg });
    if (formats.has('png')) artifacts.push({ file: `${fig.id}.png`, content: toPng(built.sourceSvg, 2) });
    if (formats.has('csv')) artifacts.push({ file: `${fig.id}.csv`, content: fig.csv });
    if (formats.has('tex') && fig.tex) artifacts.push({ file: `${fig.id}.tex`, content: fig.tex });
    progress.tick();
  }

  let regionsTable: string | undefined;
  if (run.regions && run.regions.length) {
    const top = topRegions(run.regions, o.top ?? 10, run.manifest?.languages);
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
