/**
 * Per-layer bar chart of the selected fraction, stacked by module kind: for layer l and kind m the
 * segment is selected(l, m) / numel(l), so a bar's height is the fraction of layer l's parameters
 * in the mask. One panel per language, one y scale for all.
 */
import type { D3 } from '../d3';
import type { LocateLayerRow } from '../run';
import { orderKinds, orderLanguages } from '../order';
import { esc, gridRows, r2, svgDoc, text } from '../svg';
import { toCsv } from '../../io/csv';

export interface StackedData {
  id: string;
  title: string;
  layers: number[];
  kinds: string[];
  /** segments[i][j]: selected(layers[i], kinds[j]) / numel(layers[i]) */
  panels: Array<{ lang: string; segments: number[][] }>;
}

export function stackedData(rows: LocateLayerRow[], languages?: unknown): StackedData {
  const inLayers = rows.filter((r) => r.layer !== null);
  const maxLayer = inLayers.reduce((m, r) => Math.max(m, r.layer as number), -1);
  const layers = Array.from({ length: maxLayer + 1 }, (_, i) => i);
  const kinds = orderKinds(inLayers.map((r) => r.kind));
  const langs = orderLanguages(
    rows.map((r) => r.lang),
    languages,
  );
  const panels = langs.map((lang) => {
    const mine = inLayers.filter((r) => r.lang === lang);
    return {
      lang,
      segments: layers.map((l) => {
        const cell = mine.filter((r) => r.layer === l);
        const numel = cell.reduce((s, r) => s + r.numel, 0);
        return kinds.map((k) => {
          const sel = cell.filter((r) => r.kind === k).reduce((s, r) => s + r.selected, 0);
          return numel > 0 ? sel / numel : 0;
        });
      }),
    };
  });
  return { id: 'selected-by-layer', title: 'Selected fraction per layer, stacked by module kind', layers, kinds, panels };
}

export function stackedCsv(d: StackedData): string {
  const rows: Array<Array<string | number>> = [];
  for (const p of d.panels) d.layers.forEach((l, i) => d.kinds.forEach((k, j) => rows.push([p.lang, l, k, p.segments[i][j]])));
  return toCsv(['lang', 'layer', 'kind', 'fraction_of_layer'], rows);
}

/** Kind colours: evenly spaced on viridis, so stacking order and lightness agree in grayscale. */
function kindColors(n: number, d3: D3): string[] {
  return Array.from({ length: n }, (_, i) => d3.chromatic.interpolateViridis(n === 1 ? 0.4 : i / (n - 1)));
}

/** The chart as SVG: one `<rect class="segment">` per non-zero layer × kind segment. */
export function stackedSvg(d: StackedData, d3: D3): string {
  const bw = Math.max(6, Math.min(22, Math.floor(420 / Math.max(1, d.layers.length))));
  const pw = d.layers.length * bw;
  const ph = 170;
  const ml = 50;
  const perRow = Math.max(1, Math.min(d.panels.length, Math.floor(1400 / (pw + ml + 24))));
  const rows = gridRows(d.panels, perRow);
  const colors = kindColors(d.kinds.length, d3);
  const ymax = Math.max(1e-9, ...d.panels.flatMap((p) => p.segments.map((s) => s.reduce((a, b) => a + b, 0))));
  const y = d3.scale.scaleLinear().domain([0, ymax]).nice(4).range([ph, 0]);
  const fmt = d3.format.format('.2~f');
  const top = 40;
  const legendH = 22 * Math.ceil(d.kinds.length / 8);
  const body: string[] = [text(12, 20, d.title, { size: 13, weight: 'bold' })];
  const labelEvery = bw >= 14 ? 1 : Math.ceil(14 / bw);
  rows.forEach((row, ri) =>
    row.forEach((p, pi) => {
      const ox = 10 + pi * (pw + ml + 24) + ml;
      const oy = top + ri * (ph + 70) + 20;
      const g: string[] = [`<g class="panel" id="${esc(d.id)}-${esc(p.lang)}">`];
      g.push(text(ox + pw / 2, oy - 8, p.lang, { size: 12, weight: 'bold', anchor: 'middle' }));
      for (const t of y.ticks(4)) {
        g.push(`<line x1="${r2(ox)}" y1="${r2(oy + y(t))}" x2="${r2(ox + pw)}" y2="${r2(oy + y(t))}" stroke="#e3e3e3" stroke-width="0.8"/>`);
        g.push(text(ox - 5, oy + y(t), fmt(t), { size: 10, anchor: 'end', valign: 'middle' }));
      }
      d.layers.forEach((l, i) => {
        let acc = 0;
        d.kinds.forEach((_k, j) => {
          const v = p.segments[i][j];
          if (!(v > 0)) return;
          const y0 = y(acc);
          acc += v;
          const y1 = y(acc);
          g.push(`<rect class="segment" x="${r2(ox + i * bw + 1)}" y="${r2(oy + y1)}" width="${bw - 2}" height="${r2(Math.max(0, y0 - y1))}" fill="${colors[j]}"/>`);
        });
        if (i % labelEvery === 0) g.push(text(ox + i * bw + bw / 2, oy + ph + 13, String(l), { size: 10, anchor: 'middle' }));
      });
      g.push(`<line x1="${r2(ox)}" y1="${r2(oy + ph)}" x2="${r2(ox + pw)}" y2="${r2(oy + ph)}" stroke="#444" stroke-width="0.8"/>`);
      g.push(`<line x1="${r2(ox)}" y1="${r2(oy)}" x2="${r2(ox)}" y2="${r2(oy + ph)}" stroke="#444" stroke-width="0.8"/>`);
      g.push(text(ox + pw / 2, oy + ph + 28, 'layer', { size: 10, anchor: 'middle', fill: '#555' }));
      g.push(text(ox - 38, oy + ph / 2, 'selected fraction of layer', { size: 10, anchor: 'middle', rotate: -90, fill: '#555' }));
      g.push('</g>');
      body.push(g.join('\n'));
    }),
  );
  const ly = top + rows.length * (ph + 70) + 8;
  d.kinds.forEach((k, j) => {
    const lx = 14 + (j % 8) * 118;
    const yy = ly + Math.floor(j / 8) * 22;
    body.push(`<rect x="${lx}" y="${yy}" width="14" height="14" fill="${colors[j]}"/>`);
    body.push(text(lx + 19, yy + 7, k, { size: 11, valign: 'middle' }));
  });
  const width = Math.max(10 + perRow * (pw + ml + 24) + 10, 14 + Math.min(8, d.kinds.length) * 118);
  return svgDoc(d.id, width, ly + legendH + 8, d.title, body);
}
