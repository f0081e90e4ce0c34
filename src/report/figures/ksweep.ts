/**
 * Violation rate versus k (the fraction of parameters transplanted or frozen), one line per
 * localisation method (sil, snip, weightdiff, wanda, random), one panel per evaluation language,
 * k on a log axis (the paper's Fig. 2 layout). Methods differ in colour, marker and dash, so the
 * lines stay apart in grayscale.
 */
import type { D3 } from '../d3';
import type { KSweepRow } from '../run';
import { orderLanguages } from '../order';
import { esc, gridRows, r2, svgDoc, text } from '../svg';
import { toCsv } from '../../io/csv';
import { KIND_PALETTE } from './stacked';

export const METHOD_ORDER = ['sil', 'snip', 'weightdiff', 'wanda', 'random'];

export interface KSweepData {
  id: string;
  title: string;
  methods: string[];
  panels: Array<{ lang: string; series: Array<{ method: string; points: Array<{ k: number; rate: number }> }> }>;
  ks: number[];
}

export function kSweepData(rows: KSweepRow[], languages?: unknown): KSweepData {
  const methods = [...new Set(rows.map((r) => r.method))].sort((a, b) => (METHOD_ORDER.indexOf(a) + 1 || 99) - (METHOD_ORDER.indexOf(b) + 1 || 99) || a.localeCompare(b));
  const langs = orderLanguages(
    rows.map((r) => r.eval_lang),
    languages,
  );
  const panels = langs.map((lang) => ({
    lang,
    series: methods
      .map((method) => ({
        method,
        points: rows
          .filter((r) => r.eval_lang === lang && r.method === method)
          .map((r) => ({ k: r.k, rate: r.violation_rate }))
          .sort((a, b) => a.k - b.k),
      }))
      .filter((s) => s.points.length > 0),
  }));
  const ks = [...new Set(rows.map((r) => r.k))].sort((a, b) => a - b);
  return { id: 'k-sweep', title: 'Violation rate versus k, by localisation method', methods, panels, ks };
}

export function kSweepCsv(d: KSweepData): string {
  const rows: Array<Array<string | number>> = [];
  for (const p of d.panels) for (const s of p.series) for (const pt of s.points) rows.push([p.lang, s.method, pt.k, pt.rate]);
  return toCsv(['eval_lang', 'method', 'k', 'violation_rate'], rows);
}

const DASH = ['', '6 3', '2 2', '8 3 2 3', '1 3'];

function marker(kind: number, x: number, y: number, fill: string): string {
  const s = 3.6;
  switch (kind % 5) {
    case 0:
      return `<circle cx="${r2(x)}" cy="${r2(y)}" r="${s}" fill="${fill}" stroke="#fff" stroke-width="0.6"/>`;
    case 1:
      return `<rect x="${r2(x - s)}" y="${r2(y - s)}" width="${2 * s}" height="${2 * s}" fill="${fill}" stroke="#fff" stroke-width="0.6"/>`;
    case 2:
      return `<path d="M${r2(x)} ${r2(y - s - 1)} L${r2(x + s + 0.5)} ${r2(y + s)} L${r2(x - s - 0.5)} ${r2(y + s)} Z" fill="${fill}" stroke="#fff" stroke-width="0.6"/>`;
    case 3:
      return `<path d="M${r2(x)} ${r2(y - s - 1)} L${r2(x + s + 1)} ${r2(y)} L${r2(x)} ${r2(y + s + 1)} L${r2(x - s - 1)} ${r2(y)} Z" fill="${fill}" stroke="#fff" stroke-width="0.6"/>`;
    default:
      return `<circle cx="${r2(x)}" cy="${r2(y)}" r="${s}" fill="#ffffff" stroke="${fill}" stroke-width="1.5"/>`;
  }
}

/** Line colours: evenly spaced on viridis (dark to light) so lightness alone orders them. */
/** Methods are categories: the same qualitative palette as module kinds (Okabe & Ito), with dashes and markers. */
export function methodColors(methods: string[], d3: D3): string[] {
  const all = [...KIND_PALETTE, ...d3.chromatic.schemeTableau10];
  return methods.map((_, i) => all[i % all.length]);
}

/** The chart as SVG: one `<path class="series">` per method and panel, one marker per point. */
export function kSweepSvg(d: KSweepData, d3: D3, maxWidth = 1400): string {
  // narrower panels for a column, two to a row
  const pw = maxWidth < 600 ? 140 : 250;
  const ph = maxWidth < 600 ? 120 : 190;
  const ml = 52;
  const mb = 40;
  const top = 58;
  const perRow = Math.max(1, Math.min(4, d.panels.length, Math.floor((maxWidth - 20) / (pw + ml + 20))));
  const rows = gridRows(d.panels, perRow);
  const colors = methodColors(d.methods, d3);
  const kmin = d.ks[0] ?? 0.001;
  const kmax = d.ks[d.ks.length - 1] ?? 1;
  const x = d3.scale
    .scaleLog()
    .domain(kmin === kmax ? [kmin / 2, kmax * 2] : [kmin, kmax])
    .range([0, pw]);
  const y = d3.scale.scaleLinear().domain([0, 1]).range([ph, 0]);
  const body: string[] = [text(12, 20, d.title, { size: 13, weight: 'bold' })];
  // legend
  let lx = 14;
  d.methods.forEach((m, i) => {
    body.push(`<line x1="${lx}" y1="38" x2="${lx + 26}" y2="38" stroke="${colors[i]}" stroke-width="2" ${DASH[i % 5] ? `stroke-dasharray="${DASH[i % 5]}"` : ''}/>`);
    body.push(marker(i, lx + 13, 38, colors[i]));
    body.push(text(lx + 32, 38, m, { size: 11, valign: 'middle' }));
    lx += 32 + m.length * 7 + 22;
  });
  const xt = x.ticks().filter((t) => Math.abs(Math.log10(t) - Math.round(Math.log10(t))) < 1e-9 || d.ks.includes(t));
  const fmtK = d3.format.format('~g');
  rows.forEach((row, ri) =>
    row.forEach((p, pi) => {
      const ox = 10 + pi * (pw + ml + 20) + ml;
      const oy = top + ri * (ph + mb + 30) + 20;
      const g: string[] = [`<g class="panel" id="${esc(d.id)}-${esc(p.lang)}">`];
      g.push(text(ox + pw / 2, oy - 8, `evaluated in ${p.lang}`, { size: 12, weight: 'bold', anchor: 'middle' }));
      for (const t of [0, 0.25, 0.5, 0.75, 1]) {
        g.push(`<line x1="${r2(ox)}" y1="${r2(oy + y(t))}" x2="${r2(ox + pw)}" y2="${r2(oy + y(t))}" stroke="#e3e3e3" stroke-width="0.8"/>`);
        g.push(text(ox - 5, oy + y(t), String(Math.round(t * 100)), { size: 10, anchor: 'end', valign: 'middle' }));
      }
      for (const t of d.ks) {
        g.push(`<line x1="${r2(ox + x(t))}" y1="${r2(oy + ph)}" x2="${r2(ox + x(t))}" y2="${r2(oy + ph + 4)}" stroke="#444" stroke-width="0.8"/>`);
      }
      for (const t of xt) g.push(text(ox + x(t), oy + ph + 15, fmtK(t), { size: 10, anchor: 'middle' }));
      g.push(`<rect x="${r2(ox)}" y="${r2(oy)}" width="${pw}" height="${ph}" fill="none" stroke="#444" stroke-width="0.8"/>`);
      g.push(text(ox + pw / 2, oy + ph + 31, 'k (fraction of parameters, log scale)', { size: 10, anchor: 'middle', fill: '#555' }));
      g.push(text(ox - 36, oy + ph / 2, 'violation rate (%)', { size: 10, anchor: 'middle', rotate: -90, fill: '#555' }));
      for (const s of p.series) {
        const i = d.methods.indexOf(s.method);
        const dpath = s.points.map((pt, j) => `${j ? 'L' : 'M'}${r2(ox + x(pt.k))} ${r2(oy + y(pt.rate))}`).join(' ');
        g.push(`<path class="series" d="${dpath}" fill="none" stroke="${colors[i]}" stroke-width="2" ${DASH[i % 5] ? `stroke-dasharray="${DASH[i % 5]}"` : ''}/>`);
        for (const pt of s.points) g.push(marker(i, ox + x(pt.k), oy + y(pt.rate), colors[i]));
      }
      g.push('</g>');
      body.push(g.join('\n'));
    }),
  );
  const width = 10 + perRow * (pw + ml + 20) + 10;
  const height = top + rows.length * (ph + mb + 30) + 10;
  return svgDoc(d.id, Math.max(width, lx + 10), height, d.title, body);
}
