/**
 * Tables: the ranked top regions (regions.csv, the first N per language) as CSV, LaTeX and HTML,
 * and HTML renderings of the figure matrices, so numbers can be copied from report.html.
 */
import type { RegionRow } from './run';
import type { MatrixData } from './figures/matrix';
import { orderLanguages } from './order';
import { esc } from './svg';
import { toCsv } from '../io/csv';

export const REGION_COLUMNS = ['rank', 'lang', 'tensor', 'layer', 'kind', 'unit', 'index', 'size', 'score_mass', 'selected_share'] as const;
const meanScore = (r: RegionRow) => (r.size > 0 ? r.score_mass / r.size : 0);

/**
 * The `top` best-ranked regions of each language, in language order. By default ranked by the mean
 * score per parameter (score_mass / size), so a large unit does not rank high by size alone, and
 * renumbered in that order (`rank`); `absolute` keeps regions.csv's ranking by score mass.
 */
export function topRegions(rows: RegionRow[], top: number, languages?: unknown, absolute = false): RegionRow[] {
  const langs = orderLanguages(
    rows.map((r) => r.lang),
    languages,
  );
  const rest = [...new Set(rows.map((r) => r.lang))].filter((l) => !langs.includes(l));
  const mean = (r: RegionRow) => (r.size > 0 ? r.score_mass / r.size : 0);
  return [...langs, ...rest].flatMap((lang) => {
    const mine = rows.filter((r) => r.lang === lang);
    const sorted = absolute ? mine.sort((a, b) => a.rank - b.rank) : mine.sort((a, b) => mean(b) - mean(a) || a.rank - b.rank).map((r, i) => ({ ...r, rank: i + 1 }));
    return sorted.slice(0, top);
  });
}

export function regionsCsv(rows: RegionRow[]): string {
  return toCsv(
    [...REGION_COLUMNS, 'mean_score'],
    rows.map((r) => [...REGION_COLUMNS.map((c) => r[c] as string | number | null), meanScore(r)]),
  );
}

function sci(v: number): string {
  return Math.abs(v) >= 0.01 && Math.abs(v) < 1e4 ? String(Number(v.toPrecision(4))) : v.toExponential(2);
}

export function regionsTex(rows: RegionRow[]): string {
  const t = (s: string) => s.replace(/([&%$#_{}])/g, '\\$1');
  return (
    [
      '% Top localized regions per language (mean score = score mass / parameters of the unit)',
      '\\begin{tabular}{rllrllrrrr}',
      '\\toprule',
      'rank & lang & tensor & layer & kind & unit & index & mean score & score mass & selected \\\\',
      '\\midrule',
      ...rows.map(
        (r) =>
          `${r.rank} & ${t(r.lang)} & \\texttt{${t(r.tensor)}} & ${r.layer ?? '--'} & ${t(r.kind)} & ${t(r.unit)} & ${t(r.index) || '--'} & ${sci(meanScore(r))} & ${sci(r.score_mass)} & ${(r.selected_share * 100).toFixed(1)}\\% \\\\`,
      ),
      '\\bottomrule',
      '\\end{tabular}',
    ].join('\n') + '\n'
  );
}

export function regionsHtml(rows: RegionRow[]): string {
  const head = `<tr>${['rank', 'lang', 'tensor', 'layer', 'kind', 'unit', 'index', 'size', 'mean score', 'score mass', 'selected share'].map((h) => `<th>${h}</th>`).join('')}</tr>`;
  const body = rows
    .map(
      (r) =>
        `<tr><td>${r.rank}</td><td>${esc(r.lang)}</td><td><code>${esc(r.tensor)}</code></td><td>${r.layer ?? ''}</td><td>${esc(r.kind)}</td><td>${esc(r.unit)}</td><td>${esc(r.index)}</td><td>${r.size}</td><td>${sci(meanScore(r))}</td><td>${sci(r.score_mass)}</td><td>${(r.selected_share * 100).toFixed(1)}%</td></tr>`,
    )
    .join('\n');
  return `<table class="data" id="top-regions-table"><thead>${head}</thead><tbody>\n${body}\n</tbody></table>`;
}

export function matrixHtml(d: MatrixData): string {
  const cell = (v: number | null) => (v === null ? '–' : d.percent ? (v * 100).toFixed(1) : v.toFixed(2));
  const head = `<tr><th>${esc(d.rowTitle)} \\ ${esc(d.colTitle)}</th>${d.cols.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>`;
  const body = d.rows.map((r, i) => `<tr><th>${esc(r)}</th>${d.values[i].map((v) => `<td>${cell(v)}</td>`).join('')}</tr>`).join('\n');
  return `<table class="data" id="${esc(d.id)}-table"><thead>${head}</thead><tbody>\n${body}\n</tbody></table>`;
}
