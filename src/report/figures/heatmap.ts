/**
 * Layer × module-kind heatmaps: ‖Δ‖₂ per cell (delta/layers.csv), and per language the score mass
 * and the selected fraction (layers.csv) — one panel per language, one colour scale shared by all
 * panels (viridis; logarithmic when the positive values span more than two decades), a colorbar
 * with the units. Rows are decoder layers (0 at the top), columns the module kinds found in the
 * layers; tensors outside the layers (embed, final_norm, lm_head) are listed under each panel.
 */
import type { D3 } from '../d3';
import type { DeltaLayerRow, LocateLayerRow } from '../run';
import { orderKinds, orderLanguages } from '../order';
import { colorbar, esc, gridRows, r2, svgDoc, text, textWidth } from '../svg';
import { toCsv } from '../../io/csv';

export interface HeatmapPanel {
  label: string;
  /** values[i][j]: layer `layers[i]`, kind `kinds[j]`; null where the run has no such cell */
  values: Array<Array<number | null>>;
  /** cells outside the decoder layers */
  outside: Array<{ kind: string; value: number }>;
}

export interface HeatmapData {
  id: string;
  title: string;
  /** what a cell holds, with units, for the colorbar */
  unit: string;
  layers: number[];
  kinds: string[];
  panels: HeatmapPanel[];
}

type Acc = { a: number; b: number };

function build(
  id: string,
  title: string,
  unit: string,
  groups: Array<{ label: string; rows: Array<{ layer: number | null; kind: string; a: number; b: number }> }>,
  combine: (acc: Acc) => number,
): HeatmapData {
  const all = groups.flatMap((g) => g.rows);
  const inLayers = all.filter((r) => r.layer !== null);
  const maxLayer = inLayers.reduce((m, r) => Math.max(m, r.layer as number), -1);
  const minLayer = inLayers.reduce((m, r) => Math.min(m, r.layer as number), Infinity);
  const layers: number[] = [];
  for (let l = Math.min(0, minLayer); l <= maxLayer; l++) layers.push(l);
  const kinds = orderKinds(inLayers.map((r) => r.kind));
  const panels = groups.map((g) => {
    const cells = new Map<string, Acc>();
    const out = new Map<string, Acc>();
    for (const r of g.rows) {
      const m = r.layer === null ? out : cells;
      const key = r.layer === null ? r.kind : `${r.layer}|${r.kind}`;
      const acc = m.get(key) ?? { a: 0, b: 0 };
      acc.a += r.a;
      acc.b += r.b;
      m.set(key, acc);
    }
    const values = layers.map((l) =>
      kinds.map((k) => {
        const acc = cells.get(`${l}|${k}`);
        return acc ? combine(acc) : null;
      }),
    );
    const outside = orderKinds(out.keys()).map((kind) => ({ kind, value: combine(out.get(kind) as Acc) }));
    return { label: g.label, values, outside };
  });
  return { id, title, unit, layers, kinds, panels };
}

/**
 * The weight change per layer × kind. By default relative, ‖Δ‖₂ / ‖W_base‖₂ (several tensors in one
 * cell combine as √(Σ‖Δᵢ‖₂²) / √(Σ‖Wᵢ‖₂²)), so large matrices do not win by size; `absolute` gives
 * ‖Δ‖₂ itself (combined as √(Σ‖Δᵢ‖₂²)).
 */
export function deltaHeatmapData(rows: DeltaLayerRow[], absolute = false): HeatmapData {
  if (absolute) {
    return build(
      'delta-l2',
      '‖Δ‖₂ per layer and module (Δ = θ_attacked − θ_base)',
      '‖Δ‖₂ (L2 norm of the weight change, in weight units)',
      [{ label: 'Δ', rows: rows.map((r) => ({ layer: r.layer, kind: r.kind, a: r.l2 * r.l2, b: 0 })) }],
      (acc) => Math.sqrt(acc.a),
    );
  }
  return build(
    'delta-l2',
    'Relative weight change ‖Δ‖₂ / ‖W‖₂ per layer and module',
    'relative change ‖Δ‖₂ / ‖W_base‖₂ (unitless)',
    [{ label: 'Δ', rows: rows.map((r) => ({ layer: r.layer, kind: r.kind, a: r.l2 * r.l2, b: r.rel_l2 > 0 ? (r.l2 / r.rel_l2) ** 2 : 0 })) }],
    (acc) => (acc.b > 0 ? Math.sqrt(acc.a / acc.b) : 0),
  );
}

function byLanguage(rows: LocateLayerRow[], languages?: unknown): Array<{ lang: string; rows: LocateLayerRow[] }> {
  return orderLanguages(
    rows.map((r) => r.lang),
    languages,
  ).map((lang) => ({ lang, rows: rows.filter((r) => r.lang === lang) }));
}

/**
 * The score per layer × kind, one panel per language. By default the mean score per parameter
 * (Σ score / parameters in the cell), so a cell is not bright just because its matrix is large;
 * `absolute` gives the score mass Σ score.
 */
export function scoreMassHeatmapData(rows: LocateLayerRow[], languages?: unknown, score = 'score', absolute = false): HeatmapData {
  const groups = byLanguage(rows, languages).map((g) => ({ label: g.lang, rows: g.rows.map((r) => ({ layer: r.layer, kind: r.kind, a: r.score_mass, b: r.numel })) }));
  if (absolute) return build('score-mass', `Score mass per layer and module, by language (${score})`, `score mass (Σ ${score} score over the cell's parameters)`, groups, (acc) => acc.a);
  return build('score-mass', `Mean ${score} score per parameter, by layer, module and language`, `mean ${score} score per parameter (Σ score / parameters)`, groups, (acc) =>
    acc.b > 0 ? acc.a / acc.b : 0,
  );
}

/** Selected fraction (selected / numel) per layer × kind, one panel per language; cells combine as Σselected / Σnumel. */
export function selectedFractionHeatmapData(rows: LocateLayerRow[], languages?: unknown): HeatmapData {
  return build(
    'selected-fraction',
    'Fraction of parameters selected per layer and module, by language',
    'selected fraction (selected / parameters in the cell)',
    byLanguage(rows, languages).map((g) => ({
      label: g.lang,
      rows: g.rows.map((r) => ({ layer: r.layer, kind: r.kind, a: r.numel > 0 ? r.selected : r.selected_fraction, b: r.numel > 0 ? r.numel : 1 })),
    })),
    (acc) => (acc.b > 0 ? acc.a / acc.b : 0),
  );
}

/** The figure's data in long form: panel, layer, kind, value (outside cells have an empty layer). */
export function heatmapCsv(d: HeatmapData): string {
  const rows: Array<Array<string | number | null>> = [];
  for (const p of d.panels) {
    d.layers.forEach((l, i) =>
      d.kinds.forEach((k, j) => {
        const v = p.values[i][j];
        if (v !== null) rows.push([p.label, l, k, v]);
      }),
    );
    for (const o of p.outside) rows.push([p.label, null, o.kind, o.value]);
  }
  return toCsv(['panel', 'layer', 'kind', 'value'], rows);
}

/** The shared colour normalisation of a heatmap: linear from 0, or log over the positive values. */
export function heatmapScale(d: HeatmapData, d3: D3): { log: boolean; domain: [number, number]; position: (v: number) => number } {
  const vals = d.panels.flatMap((p) => p.values.flat()).filter((v): v is number => v !== null && Number.isFinite(v));
  const pos = vals.filter((v) => v > 0);
  const max = pos.length ? Math.max(...pos) : 1;
  const minPos = pos.length ? Math.min(...pos) : 1;
  if (pos.length > 1 && max / minPos > 100) {
    const s = d3.scale.scaleLog().domain([minPos, max]).clamp(true);
    return { log: true, domain: [minPos, max], position: (v) => (v > 0 ? s(v) : NaN) };
  }
  const s = d3.scale.scaleLinear().domain([0, max]).clamp(true);
  return { log: false, domain: [0, max], position: (v) => s(v) };
}

/** Powers of ten inside the domain, thinned to at most 8 (all of d3's ticks when fewer than two powers fit). */
function logTicks(domain: [number, number], d3: D3): number[] {
  const lo = Math.ceil(Math.log10(domain[0]) - 1e-9);
  const hi = Math.floor(Math.log10(domain[1]) + 1e-9);
  if (hi - lo < 1) return d3.scale.scaleLog().domain(domain).ticks(4);
  const step = Math.ceil((hi - lo + 1) / 8);
  const out: number[] = [];
  for (let e = lo; e <= hi; e += step) out.push(Number(`1e${e}`));
  return out;
}

/** The heatmap as SVG (text not yet outlined). Cells are `<rect class="cell">`, one per non-null value. */
export function heatmapSvg(d: HeatmapData, d3: D3, maxWidth = 1200): string {
  const norm = heatmapScale(d, d3);
  const color = d3.chromatic.interpolateViridis;
  const cw = 20;
  const ch = Math.max(5, Math.min(16, Math.floor(420 / Math.max(1, d.layers.length))));
  const labelEvery = ch >= 10 ? 1 : Math.ceil(10 / ch);
  const kindLabelH = Math.max(...d.kinds.map((k) => textWidth(k, 10))) * 0.72 + 8;
  const layerLabelW = textWidth(String(d.layers[d.layers.length - 1] ?? 0), 10) + 30;
  const gridW = d.kinds.length * cw;
  const gridH = d.layers.length * ch;
  const outsideLines = Math.max(0, ...d.panels.map((p) => p.outside.length));
  const panelW = layerLabelW + Math.max(gridW, 120) + 16;
  const panelH = 20 + kindLabelH + gridH + 8 + outsideLines * 13 + 10;
  const perRow = Math.max(1, Math.min(d.panels.length, Math.floor((maxWidth - 70) / panelW)));
  const rows = gridRows(d.panels, perRow);
  const top = 34;
  const fmt = d3.format.format('.3~g');
  const body: string[] = [text(12, 20, d.title, { size: 13, weight: 'bold' })];

  rows.forEach((row, ri) =>
    row.forEach((p, pi) => {
      const x0 = 10 + pi * panelW;
      const y0 = top + ri * panelH;
      const gx = x0 + layerLabelW;
      const gy = y0 + 20 + kindLabelH;
      const g: string[] = [`<g class="panel" id="${esc(d.id)}-${esc(p.label)}">`];
      g.push(text(gx + gridW / 2, y0 + 12, p.label, { size: 12, weight: 'bold', anchor: 'middle' }));
      d.kinds.forEach((k, j) => g.push(text(gx + j * cw + cw / 2 + 3, gy - 4, k, { size: 10, rotate: -55 })));
      d.layers.forEach((l, i) => {
        if (i % labelEvery === 0 || i === d.layers.length - 1) g.push(text(gx - 4, gy + i * ch + ch / 2, String(l), { size: 10, anchor: 'end', valign: 'middle' }));
      });
      g.push(text(x0 + 8, gy + gridH / 2, 'layer', { size: 10, anchor: 'middle', rotate: -90, fill: '#555' }));
      d.layers.forEach((_l, i) =>
        d.kinds.forEach((_k, j) => {
          const v = p.values[i][j];
          if (v === null) return;
          const t = norm.position(v);
          const x = gx + j * cw;
          const y = gy + i * ch;
          if (!Number.isFinite(t)) {
            // zero on a log scale: white, outlined, marked 0
            g.push(`<rect class="cell" x="${r2(x)}" y="${r2(y)}" width="${cw}" height="${ch}" fill="#ffffff" stroke="#999" stroke-width="0.5"/>`);
            if (ch >= 8) g.push(text(x + cw / 2, y + ch / 2, '0', { size: Math.min(8, ch - 1), anchor: 'middle', valign: 'middle', fill: '#777' }));
          } else {
            const fill = color(t);
            g.push(`<rect class="cell" x="${r2(x)}" y="${r2(y)}" width="${cw}" height="${ch}" fill="${fill}"/>`);
          }
        }),
      );
      g.push(`<rect x="${r2(gx)}" y="${r2(gy)}" width="${gridW}" height="${gridH}" fill="none" stroke="#444" stroke-width="0.6"/>`);
      p.outside.forEach((o, i) => g.push(text(gx, gy + gridH + 14 + i * 13, `${o.kind}: ${fmt(o.value)}`, { size: 10, fill: '#333' })));
      g.push('</g>');
      body.push(g.join('\n'));
    }),
  );

  const cbX = 10 + perRow * panelW + 10;
  const cbY = top + 20 + kindLabelH;
  const cbLabel = d.unit + (norm.log ? ', log scale' : '');
  // the bar spans the panels' rows, so a long unit label fits rotated beside it
  const cbH = Math.max(120, Math.min(rows.length > 1 ? rows.length * panelH - (20 + kindLabelH) : gridH, 420));
  const ticks = norm.log ? logTicks(norm.domain, d3) : d3.scale.scaleLinear().domain(norm.domain).ticks(5);
  const cb = colorbar(`${d.id}-cb`, cbX, cbY, cbH, {
    interpolator: color,
    position: norm.position,
    ticks,
    tickFormat: norm.log ? d3.format.format('.0e') : d3.format.format('.3~g'),
    label: cbLabel,
  });
  body.push(cb.svg);
  const width = cbX + cb.width + 10;
  const height = top + rows.length * panelH + 10 + (norm.log && d.panels.some((p) => p.values.flat().includes(0)) ? 14 : 0);
  if (norm.log && d.panels.some((p) => p.values.flat().includes(0))) body.push(text(12, height - 8, 'White cells marked 0: zero (below the log scale).', { size: 10, fill: '#555' }));
  return svgDoc(d.id, Math.max(width, textWidth(d.title, 13) + 24), Math.max(height, cbY + cbH + 20), d.title, body);
}
