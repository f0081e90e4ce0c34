/**
 * `layers.csv`: one format for the per layer × module kind tables of `sil delta` and `sil locate`
 * (docs/run-folder.md). One column set for both commands:
 *
 *   lang,layer,kind,numel,                              the cell (lang empty for Δ rows)
 *   l1,l2,max_abs,mean_abs,rel_l2,frac_changed,         Δ statistics: written by `sil delta`
 *   score_mass,score_share,selected,selected_fraction   score and selection: written by `sil locate`
 *
 * A row fills the group its command computes and leaves the other group empty, so `sil delta`'s
 * rows have an empty `lang` and empty score columns, and `sil locate`'s rows empty Δ columns.
 * `splitLayersTable` reads either kind back (and the two older per-command formats).
 */
import { type CsvTable, objectsToCsv } from './csv';

export const LAYERS_CELL_COLUMNS = ['lang', 'layer', 'kind', 'numel'] as const;
export const LAYERS_DELTA_COLUMNS = ['l1', 'l2', 'max_abs', 'mean_abs', 'rel_l2', 'frac_changed'] as const;
export const LAYERS_SCORE_COLUMNS = ['score_mass', 'score_share', 'selected', 'selected_fraction'] as const;

/** The columns of every layers.csv, in order. */
export const LAYERS_CSV_COLUMNS = [...LAYERS_CELL_COLUMNS, ...LAYERS_DELTA_COLUMNS, ...LAYERS_SCORE_COLUMNS] as const;

export type LayersCsvColumn = (typeof LAYERS_CSV_COLUMNS)[number];

/** One row: the cell, and the numbers of one (or both) column groups; what is absent is written empty. */
export type LayersCsvRow = {
  lang?: string | null;
  layer: number | null;
  kind: string;
  numel: number;
} & Partial<Record<(typeof LAYERS_DELTA_COLUMNS)[number] | (typeof LAYERS_SCORE_COLUMNS)[number], number | null>>;

/** The text of a layers.csv holding `rows` (each row reduced to the shared columns). */
export function layersCsv(rows: readonly LayersCsvRow[]): string {
  return objectsToCsv<LayersCsvRow>(LAYERS_CSV_COLUMNS, rows);
}

const filled = (row: Record<string, string>, cols: readonly string[]) => cols.some((c) => (row[c] ?? '').trim() !== '');

/**
 * Splits a parsed layers.csv into its Δ rows and its score rows, each as a table of its own. In the
 * shared format a row with any Δ column filled is a Δ row, a row with any score column filled a
 * score row (both, when both are); a row with neither is returned in `empty` (its row number, 2 for
 * the first row) for the reader to refuse. A file whose header has only one group's columns (the
 * per-command formats written before this one: Δ `layer,kind,numel,l1,…`, score
 * `lang,layer,kind,numel,score_mass,…`) is that group's table as it stands.
 */
export function splitLayersTable(table: CsvTable): { delta?: CsvTable; score?: CsvTable; empty: number[] } {
  const hasDelta = LAYERS_DELTA_COLUMNS.some((c) => table.header.includes(c));
  const hasScore = LAYERS_SCORE_COLUMNS.some((c) => table.header.includes(c));
  if (hasDelta !== hasScore) return { ...(hasDelta ? { delta: table } : { score: table }), empty: [] };
  const delta: Array<Record<string, string>> = [];
  const score: Array<Record<string, string>> = [];
  const empty: number[] = [];
  table.rows.forEach((r, i) => {
    const d = filled(r, LAYERS_DELTA_COLUMNS);
    const s = filled(r, LAYERS_SCORE_COLUMNS);
    if (d) delta.push(r);
    if (s) score.push(r);
    if (!d && !s) empty.push(i + 2);
  });
  return {
    delta: delta.length ? { header: table.header, rows: delta } : undefined,
    score: score.length ? { header: table.header, rows: score } : undefined,
    empty,
  };
}
