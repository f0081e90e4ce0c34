/**
 * The `sil delta` outputs as strings: tensors.csv, layers.csv (the format `sil locate` writes too,
 * io/layers-csv.ts), kinds.csv (io/csv.ts: header row, plain decimals), summary.json, and the short
 * human summary. File names and columns are those of docs/run-folder.md.
 */
import { toCsv } from '../io/csv';
import { layersCsv } from '../io/layers-csv';
import type { DeltaResultSet } from './compute';
import { byKind, byLayer, byLayerKind, topBy, total } from './rollup';
import type { DeltaStats } from './stats';

export const TENSOR_COLUMNS = ['tensor', 'layer', 'kind', 'dtype', 'shape', 'numel', 'l1', 'l2', 'max_abs', 'mean_abs', 'rel_l2', 'frac_changed', 'nan', 'inf'] as const;
export const KIND_COLUMNS = ['kind', 'numel', 'l1', 'l2', 'max_abs', 'mean_abs', 'rel_l2', 'frac_changed'] as const;

type Cell = string | number | null;

function csv(columns: readonly string[], rows: Array<Record<string, Cell | number[]>>): string {
  return toCsv(
    columns,
    rows.map((r) => columns.map((c) => (c === 'shape' ? (r[c] as number[]).join('x') : (r[c] as Cell)))),
  );
}

export interface DeltaFiles {
  'tensors.csv': string;
  'layers.csv': string;
  'kinds.csv': string;
  'summary.json': string;
}

export interface SummaryInputs {
  base: { path: string; header_sha256: string };
  attacked: { path: string; header_sha256: string };
  options: Record<string, unknown>;
  version: string;
  created: string;
  seconds: number;
}

function brief(s: DeltaStats) {
  return { numel: s.numel, l2: s.l2, rel_l2: s.rel_l2, mean_abs: s.mean_abs, max_abs: s.max_abs, frac_changed: s.frac_changed };
}

/** The summary object written to summary.json (JSON has no Infinity: such values become null). */
export function summarize(r: DeltaResultSet, inp: SummaryInputs, top = 5) {
  const tot = total(r.tensors);
  const layers = byLayer(r.tensors);
  const cells = byLayerKind(r.tensors);
  const nonFinite = r.tensors.filter((t) => t.nan > 0 || t.inf > 0).map((t) => ({ tensor: t.tensor, nan: t.nan, inf: t.inf }));
  return {
    command: 'delta',
    version: inp.version,
    created: inp.created,
    inputs: { base: inp.base, attacked: inp.attacked },
    options: inp.options,
    architecture: r.architecture,
    family: r.family,
    n_tensors: r.tensors.length,
    totals: tot,
    top_layers: topBy(layers, top).map((l) => ({ layer: l.layer, ...brief(l) })),
    top_modules: topBy(cells, top * 2).map((c) => ({ layer: c.layer, kind: c.kind, ...brief(c) })),
    top_kinds: topBy(byKind(r.tensors, r.architecture), top).map((k) => ({ kind: k.kind, ...brief(k) })),
    non_finite: nonFinite,
    warnings: r.warnings,
    timings: { seconds: inp.seconds, bytes_per_checkpoint: r.bytesPerCheckpoint, gb_per_s_per_checkpoint: inp.seconds > 0 ? r.bytesPerCheckpoint / 1e9 / inp.seconds : null },
  };
}

export type DeltaSummary = ReturnType<typeof summarize>;

export async function renderDeltaFiles(r: DeltaResultSet, summary: DeltaSummary): Promise<DeltaFiles> {
  return {
    'tensors.csv': csv(TENSOR_COLUMNS, r.tensors as unknown as Array<Record<string, Cell | number[]>>),
    'layers.csv': layersCsv(byLayerKind(r.tensors)),
    'kinds.csv': csv(KIND_COLUMNS, byKind(r.tensors, r.architecture) as unknown as Array<Record<string, Cell>>),
    'summary.json': JSON.stringify(summary, null, 2) + '\n',
  };
}

const g = (x: number) => (Number.isFinite(x) ? x.toPrecision(3) : String(x));
const pct = (x: number) => (100 * x).toFixed(1) + '%';

/** A few lines for the terminal: totals, then the most changed layers and modules. */
export function humanSummary(s: DeltaSummary): string {
  const t = s.totals;
  const lines = [
    `Δ = attacked − base over ${s.n_tensors} tensors, ${t.numel.toLocaleString('en-US')} parameters (${s.architecture ?? 'unknown architecture'})`,
    `  ‖Δ‖₂ ${g(t.l2)}   ‖Δ‖₂/‖W‖₂ ${g(t.rel_l2)}   mean|Δ| ${g(t.mean_abs)}   max|Δ| ${g(t.max_abs)}   changed ${pct(t.frac_changed)}`,
  ];
  if (t.nan || t.inf) lines.push(`  non-finite weights: ${t.nan} NaN, ${t.inf} Inf in ${s.non_finite.length} tensor(s) (excluded from the statistics)`);
  if (s.top_layers.length) {
    lines.push('Most changed layers (‖Δ‖₂/‖W‖₂):');
    for (const l of s.top_layers) lines.push(`  layer ${String(l.layer).padStart(3)}  ${g(l.rel_l2).padStart(9)}  mean|Δ| ${g(l.mean_abs)}`);
  }
  lines.push('Most changed modules (‖Δ‖₂/‖W‖₂):');
  for (const m of s.top_modules) lines.push(`  ${(m.layer === null ? '' : `layer ${m.layer} `) + m.kind}`.padEnd(24) + `${g(m.rel_l2).padStart(9)}  mean|Δ| ${g(m.mean_abs)}`);
  for (const w of s.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n') + '\n';
}
