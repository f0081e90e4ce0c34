/**
 * Annotated matrices: language × language SIR (the paper's Table 1 layout: rows and columns are
 * the languages' masks, plus the benign-data and random-mask baselines as extra columns) and the
 * fine-tuning-language × evaluation-language violation rate (the paper's Fig. 1 layout). Each
 * cell is coloured on a fixed [0, 1] cividis scale and shows its value.
 */
import type { D3 } from '../d3';
import type { OverlapRow, ViolationRow } from '../run';
import { isLanguage, orderLanguages } from '../order';
import { colorbar, esc, ink, r2, svgDoc, text, textWidth } from '../svg';
import { toCsv } from '../../io/csv';

export interface MatrixData {
  id: string;
  title: string;
  rowTitle: string;
  colTitle: string;
  rows: string[];
  cols: string[];
  /** values[i][j] for rows[i], cols[j]; null where the run has no such pair */
  values: Array<Array<number | null>>;
  /** how a value is printed in its cell and on the colorbar */
  percent: boolean;
  unit: string;
}

/**
 * SIR(a, b) = |γa ∩ γb| / k for every language a (rows) and every language b, then `benign` and
 * `random` (columns), from overlap.csv.
 */
export function sirMatrixData(overlap: OverlapRow[], languages?: unknown): MatrixData {
  const langs = orderLanguages(
    overlap.flatMap((r) => [r.a, r.b]),
    languages,
  );
  const baselines = ['benign', 'random'].filter((b) => overlap.some((r) => r.b === b || r.a === b));
  const get = (a: string, b: string): number | null => {
    const hit = overlap.find((r) => r.a === a && r.b === b) ?? overlap.find((r) => r.a === b && r.b === a);
    return hit ? hit.sir : null;
  };
  return {
    id: 'sir-matrix',
    title: 'Safety information overlap SIR(a, b) = |γa ∩ γb| / k',
    rowTitle: 'mask a',
    colTitle: 'mask b',
    rows: langs,
    cols: [...langs, ...baselines],
    values: langs.map((a) => [...langs, ...baselines].map((b) => get(a, b))),
    percent: false,
    unit: 'SIR (fraction of the k selected parameters shared)',
  };
}

/**
 * Violation rate per fine-tuning language (rows; `none` = the base model first) and evaluation
 * language (columns), from eval/violations.csv; several models with one ft_lang pool as
 * Σviolations / Σn.
 */
export function violationMatrixData(rows: ViolationRow[], languages?: unknown): MatrixData {
  const evalLangs = orderLanguages(
    rows.map((r) => r.eval_lang),
    languages,
  );
  const ft = [...(rows.some((r) => r.ft_lang === 'none') ? ['none'] : []), ...orderLanguages(rows.map((r) => r.ft_lang).filter(isLanguage), languages)];
  const values = ft.map((f) =>
    evalLangs.map((e) => {
      const hits = rows.filter((r) => r.ft_lang === f && r.eval_lang === e);
      if (hits.length === 0) return null;
      if (hits.length === 1) return hits[0].violation_rate;
      const n = hits.reduce((s, r) => s + r.n, 0);
      return n > 0 ? hits.reduce((s, r) => s + r.violations, 0) / n : null;
    }),
  );
  return {
    id: 'violation-matrix',
    title: 'Violation rate by fine-tuning language and evaluation language',
    rowTitle: 'fine-tuning language',
    colTitle: 'evaluation language',
    rows: ft,
    cols: evalLangs,
    values,
    percent: true,
    unit: 'violation rate (%)',
  };
}

/** The matrix as CSV: a row label column named by the row title, then one column per column label. */
export function matrixCsv(d: MatrixData): string {
  return toCsv(
    [d.rowTitle, ...d.cols],
    d.rows.map((r, i) => [r, ...d.values[i]]),
  );
}

/** A LaTeX `tabular` (booktabs rules) with the values as printed in the figure. */
export function matrixTex(d: MatrixData, caption = d.title): string {
  const texEsc = (s: string) => s.replace(/([&%$#_{}])/g, '\\$1');
  const cell = (v: number | null) => (v === null ? '--' : d.percent ? (v * 100).toFixed(1) : v.toFixed(2));
  const lines = [
    `% ${caption}${d.percent ? ' (values in %)' : ''}`,
    `\\begin{tabular}{l${'r'.repeat(d.cols.length)}}`,
    '\\toprule',
    `${texEsc(d.rowTitle)} & ${d.cols.map(texEsc).join(' & ')} \\\\`,
    '\\midrule',
    ...d.rows.map((r, i) => `${texEsc(r)} & ${d.values[i].map(cell).join(' & ')} \\\\`),
    '\\bottomrule',
    '\\end{tabular}',
  ];
  return lines.join('\n') + '\n';
}

/** The matrix as SVG: `<rect class="cell">` per non-null value, its value printed in it. */
export function matrixSvg(d: MatrixData, d3: D3): string {
  const color = d3.chromatic.interpolateCividis;
  const cw = 52;
  const ch = 30;
  const rowLabelW = Math.max(...d.rows.map((r) => textWidth(r, 11)), 20) + 34;
  const colLabelH = Math.max(...d.cols.map((c) => textWidth(c, 11)), 20) * 0.75 + 12;
  const gx = 10 + rowLabelW;
  const gy = 44 + colLabelH;
  const fmtCell = d.percent ? (v: number) => (v * 100).toFixed(1) : d3.format.format('.2f');
  const body: string[] = [text(12, 20, d.title, { size: 13, weight: 'bold' })];
  body.push(text(gx + (d.cols.length * cw) / 2, 40, d.colTitle, { size: 11, anchor: 'middle', fill: '#555' }));
  body.push(text(18, gy + (d.rows.length * ch) / 2, d.rowTitle, { size: 11, anchor: 'middle', rotate: -90, fill: '#555' }));
  d.cols.forEach((c, j) => body.push(text(gx + j * cw + cw / 2, gy - 6, c, { size: 11, anchor: 'middle' })));
  d.rows.forEach((r, i) => body.push(text(gx - 6, gy + i * ch + ch / 2, r, { size: 11, anchor: 'end', valign: 'middle' })));
  const cells: string[] = [`<g class="cells" id="${esc(d.id)}-cells">`];
  d.rows.forEach((_, i) =>
    d.cols.forEach((_, j) => {
      const v = d.values[i][j];
      const x = gx + j * cw;
      const y = gy + i * ch;
      if (v === null) {
        cells.push(text(x + cw / 2, y + ch / 2, '–', { size: 11, anchor: 'middle', valign: 'middle', fill: '#999' }));
        return;
      }
      const fill = color(Math.max(0, Math.min(1, v)));
      cells.push(`<rect class="cell" x="${r2(x)}" y="${r2(y)}" width="${cw}" height="${ch}" fill="${fill}" stroke="#ffffff" stroke-width="1"/>`);
      cells.push(text(x + cw / 2, y + ch / 2, fmtCell(v), { size: 11, anchor: 'middle', valign: 'middle', fill: ink(fill), cls: 'value' }));
    }),
  );
  cells.push('</g>');
  body.push(cells.join('\n'));
  const baselineStart = d.cols.findIndex((c) => !isLanguage(c));
  if (baselineStart > 0) {
    const x = gx + baselineStart * cw;
    body.push(`<line x1="${r2(x)}" y1="${r2(gy - 2)}" x2="${r2(x)}" y2="${r2(gy + d.rows.length * ch + 2)}" stroke="#222" stroke-width="1.5"/>`);
  }
  const cbX = gx + d.cols.length * cw + 18;
  const cbH = Math.max(110, d.rows.length * ch);
  const cb = colorbar(`${d.id}-cb`, cbX, gy, cbH, {
    interpolator: color,
    position: (v) => v,
    ticks: [0, 0.2, 0.4, 0.6, 0.8, 1],
    tickFormat: d.percent ? (v) => String(Math.round(v * 100)) : d3.format.format('.1f'),
    label: d.unit,
  });
  body.push(cb.svg);
  const width = Math.max(cbX + cb.width + 10, textWidth(d.title, 13) + 24);
  const height = gy + Math.max(d.rows.length * ch, cbH) + 16;
  return svgDoc(d.id, width, height, d.title, body);
}
