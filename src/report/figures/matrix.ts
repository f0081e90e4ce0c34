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
import { VIOLATION_COLUMNS } from '../../eval/conditions';

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
  /** per cell, for rates: the number of trials and the 95 % Wilson interval, printed under the value */
  n?: Array<Array<number | null>>;
  ci?: Array<Array<[number, number] | null>>;
  /** a line under the grid: what the cells show, or a finding in words */
  note?: string;
  /** the colour scale's [low, high] (default [0, 1]) */
  scaleDomain?: [number, number];
  /** draw the diagonal in a neutral grey, outside the colour scale */
  neutralDiagonal?: boolean;
  /** one id per row (the condition ids of the violation matrix) */
  rowIds?: string[];
  /** the rows as drawn, one per cell (CSV of the violation matrix: long format) */
  records?: ViolationRow[];
}

/**
 * SIR(a, b) = |γa ∩ γb| / |γa| for every language a (rows) and every language b, then `benign` and
 * `random` (columns), from overlap.csv. The colour scale spans the off-diagonal values (the
 * diagonal, 1 by definition, is drawn neutral), and `note` says in words whether cross-language
 * SIR is above the benign-data SIR by more than its spread.
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
  const cols = [...langs, ...baselines];
  const values = langs.map((a) => cols.map((b) => get(a, b)));
  const off = values.flatMap((row, i) => row.filter((v, j) => j !== i && v !== null) as number[]);
  const c = sirComparison(overlap, langs);
  return {
    id: 'sir-matrix',
    title: 'Safety information overlap SIR(a, b) = |γa ∩ γb| / |γa|',
    rowTitle: 'mask a',
    colTitle: 'mask b',
    rows: langs,
    cols,
    values,
    percent: false,
    unit: 'SIR (diagonal, = 1, in grey)',
    scaleDomain: off.length ? [Math.min(...off), Math.max(...off)] : undefined,
    neutralDiagonal: true,
    note: c?.sentence,
  };
}

export interface SirComparison {
  /** SIR between two different languages: mean and population standard deviation (the spread) */
  cross_mean: number;
  cross_sd: number;
  cross_n: number;
  /** SIR of each language's mask against the benign-data mask: mean */
  benign_mean: number;
  random_mean: number | null;
  /** cross-language SIR exceeds the benign SIR by more than the cross-language spread */
  above_benign: boolean;
  sentence: string;
}

/**
 * Is cross-language overlap specific to safety? Compares the mean SIR between different languages
 * with the mean SIR of each language against the benign-data mask: the difference must exceed the
 * cross-language spread (population standard deviation) to count. Null without two languages and
 * a benign mask.
 */
export function sirComparison(overlap: OverlapRow[], langs: readonly string[]): SirComparison | null {
  const sir = (a: string, b: string) => overlap.find((r) => r.a === a && r.b === b)?.sir;
  const cross = langs.flatMap((a) => langs.filter((b) => b !== a).map((b) => sir(a, b))).filter((v): v is number => v !== undefined);
  const benign = langs.map((a) => sir(a, 'benign')).filter((v): v is number => v !== undefined);
  if (cross.length === 0 || benign.length === 0) return null;
  const mean = (v: number[]) => v.reduce((x, y) => x + y, 0) / v.length;
  const cm = mean(cross);
  const sd = Math.sqrt(mean(cross.map((v) => (v - cm) ** 2)));
  const bm = mean(benign);
  const random = langs.map((a) => sir(a, 'random')).filter((v): v is number => v !== undefined);
  const above = cm - bm > sd;
  const f = (v: number) => v.toFixed(3);
  const sentence = above
    ? `Cross-language SIR (mean ${f(cm)}, spread ±${f(sd)}) is above the benign-data SIR (${f(bm)}) by ${f(cm - bm)}, more than its spread: the languages share more with each other than with a mask from benign data.`
    : `Cross-language SIR (mean ${f(cm)}, spread ±${f(sd)}) is not above the benign-data SIR (${f(bm)}) by more than its spread: the languages' masks overlap each other no more than they overlap a mask from benign data, so this overlap is not specific to safety.`;
  return { cross_mean: cm, cross_sd: sd, cross_n: cross.length, benign_mean: bm, random_mean: random.length ? mean(random) : null, above_benign: above, sentence };
}

/**
 * Violation rate per evaluation condition (rows: one per condition id — the base first, then the
 * attacks in language order, each followed by its variants such as a frozen mask) and evaluation
 * language (columns), from eval/violations.csv. Conditions are never pooled: two models attacked
 * in one language but evaluated as different conditions are two rows. A row is labelled with its
 * condition, plus the checkpoint's hash where two conditions share a label. Each cell carries n
 * and the 95 % Wilson interval.
 */
export function violationMatrixData(rows: ViolationRow[], languages?: unknown): MatrixData {
  const evalLangs = orderLanguages(
    rows.map((r) => r.eval_lang),
    languages,
  );
  const ftOrder = ['none', ...orderLanguages(rows.map((r) => r.ft_lang).filter(isLanguage), languages)];
  const ids = [...new Set(rows.map((r) => r.condition_id))];
  const first = new Map(ids.map((id) => [id, rows.find((r) => r.condition_id === id)!]));
  const rank = (id: string) => {
    const r = first.get(id)!;
    const i = ftOrder.indexOf(r.ft_lang);
    return i < 0 ? ftOrder.length : i;
  };
  const plain = (id: string) => {
    const r = first.get(id)!;
    return r.condition === 'base' || r.condition === `attack=${r.ft_lang}` ? 0 : 1;
  };
  ids.sort((a, b) => rank(a) - rank(b) || plain(a) - plain(b) || first.get(a)!.condition.localeCompare(first.get(b)!.condition) || a.localeCompare(b));
  const labels = ids.map((id) => {
    const r = first.get(id)!;
    const shared = ids.filter((j) => first.get(j)!.condition === r.condition).length > 1;
    return shared && r.checkpoint_sha256 ? `${r.condition} (${r.checkpoint_sha256.slice(0, 8)})` : r.condition;
  });
  const cell = (id: string, e: string) => rows.find((r) => r.condition_id === id && r.eval_lang === e);
  const records: ViolationRow[] = [];
  for (const id of ids)
    for (const e of evalLangs) {
      const r = cell(id, e);
      if (r) records.push(r);
    }
  return {
    id: 'violation-matrix',
    title: 'Violation rate by condition and evaluation language',
    rowTitle: 'condition',
    colTitle: 'evaluation language',
    rows: labels,
    rowIds: ids,
    cols: evalLangs,
    values: ids.map((id) => evalLangs.map((e) => cell(id, e)?.violation_rate ?? null)),
    n: ids.map((id) => evalLangs.map((e) => cell(id, e)?.n ?? null)),
    ci: ids.map((id) =>
      evalLangs.map((e) => {
        const r = cell(id, e);
        return r ? [r.ci_low, r.ci_high] : null;
      }),
    ),
    records,
    note: 'each cell: violation rate (%), its 95 % Wilson interval, n prompts',
    percent: true,
    unit: 'violation rate (%)',
  };
}

/** The matrix as CSV: a row label column named by the row title, then one column per column label. */
export function matrixCsv(d: MatrixData): string {
  if (d.records) {
    const cols = VIOLATION_COLUMNS.filter((c) => c !== 'checkpoint_sha256');
    return toCsv(
      ['row', ...cols, 'checkpoint_sha256'],
      d.records.map((r) => [d.rows[d.rowIds!.indexOf(r.condition_id)], ...cols.map((c) => r[c]), r.checkpoint_sha256]),
    );
  }
  return toCsv(
    [d.rowTitle, ...d.cols],
    d.rows.map((r, i) => [r, ...d.values[i]]),
  );
}

/** A LaTeX `tabular` (booktabs rules) with the values as printed in the figure. */
export function matrixTex(d: MatrixData, caption = d.title): string {
  const texEsc = (s: string) => s.replace(/([&%$#_{}])/g, '\\$1');
  const fmt = (v: number) => (d.percent ? (v * 100).toFixed(1) : v.toFixed(2));
  const cell = (v: number | null, i: number, j: number) => {
    if (v === null) return '--';
    const ci = d.ci?.[i][j];
    const n = d.n?.[i][j];
    return ci ? `${fmt(v)} {\\scriptsize[${fmt(ci[0])}, ${fmt(ci[1])}]${n === null || n === undefined ? '' : `, n=${n}`}}` : fmt(v);
  };
  const lines = [
    `% ${caption}${d.percent ? ' (values in %)' : ''}${d.ci ? '; in brackets the 95 % Wilson interval and the number of prompts n' : ''}`,
    `\\begin{tabular}{l${'r'.repeat(d.cols.length)}}`,
    '\\toprule',
    `${texEsc(d.rowTitle)} & ${d.cols.map(texEsc).join(' & ')} \\\\`,
    '\\midrule',
    ...d.rows.map((r, i) => `${texEsc(r)} & ${d.values[i].map((v, j) => cell(v, i, j)).join(' & ')} \\\\`),
    '\\bottomrule',
    '\\end{tabular}',
  ];
  return lines.join('\n') + '\n';
}

/** Words of `s` in lines no wider than `width` at `size`. */
function wrap(s: string, size: number, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const w of s.split(' ')) {
    const next = line ? `${line} ${w}` : w;
    if (line && textWidth(next, size) > width) {
      out.push(line);
      line = w;
    } else line = next;
  }
  if (line) out.push(line);
  return out;
}

/** The matrix as SVG: `<rect class="cell">` per non-null value, its value printed in it. */
export function matrixSvg(d: MatrixData, d3: D3): string {
  const color = d3.chromatic.interpolateCividis;
  const withCi = !!d.ci;
  const cw = withCi ? 64 : 52;
  const ch = withCi ? 48 : 30;
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
      const [lo, hi] = d.scaleDomain ?? [0, 1];
      const diag = d.neutralDiagonal && d.cols[j] === d.rows[i];
      const fill = diag ? '#e8e8e8' : color(hi > lo ? Math.max(0, Math.min(1, (v - lo) / (hi - lo))) : 0.5);
      cells.push(`<rect class="cell" x="${r2(x)}" y="${r2(y)}" width="${cw}" height="${ch}" fill="${fill}" stroke="#ffffff" stroke-width="1"/>`);
      const ci = d.ci?.[i][j];
      if (!ci) {
        cells.push(text(x + cw / 2, y + ch / 2, fmtCell(v), { size: 11, anchor: 'middle', valign: 'middle', fill: ink(fill), cls: 'value' }));
        return;
      }
      // the value, its 95 % interval and n, one under the other
      const n = d.n?.[i][j];
      cells.push(text(x + cw / 2, y + 13, fmtCell(v), { size: 11, anchor: 'middle', valign: 'middle', fill: ink(fill), cls: 'value' }));
      cells.push(text(x + cw / 2, y + 27, `${fmtCell(ci[0])}–${fmtCell(ci[1])}`, { size: 8, anchor: 'middle', valign: 'middle', fill: ink(fill), cls: 'ci' }));
      if (n !== null && n !== undefined) cells.push(text(x + cw / 2, y + 39, `n=${n}`, { size: 8, anchor: 'middle', valign: 'middle', fill: ink(fill), cls: 'n' }));
    }),
  );
  cells.push('</g>');
  body.push(cells.join('\n'));
  const baselineStart = d.cols.findIndex((c) => !isLanguage(c));
  if (baselineStart > 0) {
    const x = gx + baselineStart * cw;
    body.push(`<line x1="${r2(x)}" y1="${r2(gy - 20)}" x2="${r2(x)}" y2="${r2(gy + d.rows.length * ch + 2)}" stroke="#222" stroke-width="1.5"/>`);
    body.push(text(x + ((d.cols.length - baselineStart) * cw) / 2, gy - 22, 'baselines', { size: 10, anchor: 'middle', fill: '#555', cls: 'baselines' }));
  }
  const cbX = gx + d.cols.length * cw + 18;
  const cbH = Math.max(110, d.rows.length * ch);
  const [lo, hi] = d.scaleDomain ?? [0, 1];
  const ticks = d.scaleDomain ? d3.scale.scaleLinear().domain([lo, hi]).ticks(5) : [0, 0.2, 0.4, 0.6, 0.8, 1];
  const cb = colorbar(`${d.id}-cb`, cbX, gy, cbH, {
    interpolator: color,
    position: (v) => (hi > lo ? (v - lo) / (hi - lo) : 0.5),
    ticks,
    tickFormat: d.percent ? (v) => String(Math.round(v * 100)) : d3.format.format(d.scaleDomain ? '.3~f' : '.1f'),
    label: d.unit,
  });
  body.push(cb.svg);
  const gridBottom = gy + Math.max(d.rows.length * ch, cbH);
  const frameW = Math.max(cbX + cb.width + 10, textWidth(d.title, 13) + 24);
  const noteLines = d.note ? wrap(d.note, 9, frameW - 24) : [];
  noteLines.forEach((l, i) => body.push(text(12, gridBottom + 18 + i * 12, l, { size: 9, fill: '#333', cls: 'note' })));
  const width = frameW;
  const height = gridBottom + (noteLines.length ? 14 + noteLines.length * 12 : 16);
  return svgDoc(d.id, width, height, d.title, body);
}
