/**
 * Small SVG-as-string helpers shared by the figure builders: escaping, text, the document frame,
 * a colorbar, number formats and a contrast rule for text drawn over coloured cells. Text is set
 * in DejaVu Sans and converted to paths later (render.ts), so widths here are estimates used only
 * for margins.
 */
import { FONT_FAMILY } from './fonts';

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Rounds a coordinate to 2 decimals (keeps the SVG short and stable). */
export function r2(v: number): string {
  return String(Math.round(v * 100) / 100);
}

export interface TextOpts {
  size?: number;
  anchor?: 'start' | 'middle' | 'end';
  weight?: 'normal' | 'bold';
  fill?: string;
  /** rotation in degrees about (x, y) */
  rotate?: number;
  /** vertical placement of the text relative to y */
  valign?: 'baseline' | 'middle' | 'hanging';
  cls?: string;
}

/** A text element; `valign` is applied as a y shift (0.35em / 0.8em) rather than dominant-baseline. */
export function text(x: number, y: number, s: string, o: TextOpts = {}): string {
  const size = o.size ?? 11;
  const dy = o.valign === 'middle' ? 0.35 * size : o.valign === 'hanging' ? 0.8 * size : 0;
  const attrs = [
    `x="${r2(x)}"`,
    `y="${r2(y + dy)}"`,
    `font-size="${size}"`,
    o.anchor && o.anchor !== 'start' ? `text-anchor="${o.anchor}"` : '',
    o.weight === 'bold' ? 'font-weight="bold"' : '',
    `fill="${o.fill ?? '#222'}"`,
    o.rotate ? `transform="rotate(${o.rotate} ${r2(x)} ${r2(y)})"` : '',
    o.cls ? `class="${o.cls}"` : '',
  ].filter(Boolean);
  return `<text ${attrs.join(' ')}>${esc(s)}</text>`;
}

/** Estimated advance width of `s` in DejaVu Sans at `size` px (generous: 0.62 em per character). */
export function textWidth(s: string, size = 11): number {
  return [...s].length * 0.62 * size;
}

/** The document frame: white background, DejaVu Sans, a <title> for viewers that show one. */
export function svgDoc(id: string, width: number, height: number, title: string, body: string[]): string {
  const w = Math.ceil(width);
  const h = Math.ceil(height);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" id="${esc(id)}" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="${FONT_FAMILY}">`,
    `<title>${esc(title)}</title>`,
    `<rect x="0" y="0" width="${w}" height="${h}" fill="#ffffff"/>`,
    ...body,
    '</svg>',
  ].join('\n');
}

/** Relative luminance (WCAG) of a #rrggbb or rgb(r, g, b) colour. */
export function luminance(color: string): number {
  let rgb: number[];
  const hex = /^#([0-9a-f]{6})$/i.exec(color);
  if (hex) rgb = [0, 2, 4].map((i) => parseInt(hex[1].slice(i, i + 2), 16));
  else {
    const m = /rgb\((\d+),\s*(\d+),\s*(\d+)\)/.exec(color);
    if (!m) return 1;
    rgb = [m[1], m[2], m[3]].map(Number);
  }
  const lin = rgb.map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
}

/** Black or white, whichever reads better on `fill`. */
export function ink(fill: string): string {
  return luminance(fill) > 0.18 ? '#000000' : '#ffffff';
}

export interface ColorbarSpec {
  /** t ∈ [0, 1] → colour */
  interpolator: (t: number) => string;
  /** value → t ∈ [0, 1] (the figure's own normalisation, linear or log) */
  position: (v: number) => number;
  ticks: number[];
  tickFormat: (v: number) => string;
  label: string;
}

/**
 * A vertical colorbar at (x, y), `h` tall, with ticks on the right and the label (units) rotated
 * beside it — or, when the label is longer than the bar, set horizontally above the bar (so short
 * grids keep a short colorbar instead of growing white space).
 */
export function colorbar(id: string, x: number, y: number, h: number, spec: ColorbarSpec): { svg: string; width: number } {
  const w = 14;
  const stops: string[] = [];
  const n = 32;
  for (let i = 0; i <= n; i++) {
    const t = i / n;
    stops.push(`<stop offset="${r2(t)}" stop-color="${spec.interpolator(t)}"/>`);
  }
  const parts = [
    `<g class="colorbar">`,
    `<defs><linearGradient id="${id}" x1="0" y1="1" x2="0" y2="0">${stops.join('')}</linearGradient></defs>`,
    `<rect x="${r2(x)}" y="${r2(y)}" width="${w}" height="${r2(h)}" fill="url(#${id})" stroke="#444" stroke-width="0.5"/>`,
  ];
  let maxLabel = 0;
  for (const v of spec.ticks) {
    const t = spec.position(v);
    if (!(t >= -1e-9 && t <= 1 + 1e-9)) continue;
    const ty = y + h - t * h;
    const s = spec.tickFormat(v);
    maxLabel = Math.max(maxLabel, textWidth(s, 10));
    parts.push(`<line x1="${r2(x + w)}" y1="${r2(ty)}" x2="${r2(x + w + 4)}" y2="${r2(ty)}" stroke="#444" stroke-width="0.8"/>`);
    parts.push(text(x + w + 6, ty, s, { size: 10, valign: 'middle' }));
  }
  const labelW = textWidth(spec.label, 11);
  const tickW = w + 10 + maxLabel;
  if (labelW * 0.92 + 12 > h) {
    parts.push(text(x, y - 10, spec.label, { size: 11 }));
    parts.push('</g>');
    return { svg: parts.join('\n'), width: Math.max(tickW, labelW) };
  }
  const lx = x + w + 10 + maxLabel + 6;
  parts.push(text(lx, y + h / 2, spec.label, { size: 11, anchor: 'middle', rotate: 90 }));
  parts.push('</g>');
  return { svg: parts.join('\n'), width: tickW + 6 + 14 };
}

/**
 * Splits `items` into rows of at most `perRow` (a grid of small multiples), keeping order.
 */
export function gridRows<T>(items: T[], perRow: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += perRow) out.push(items.slice(i, i + perRow));
  return out;
}
