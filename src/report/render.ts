/**
 * From figure SVG (with <text>) to portable output, through resvg with the DejaVu files only:
 * `outlineText` turns every glyph into a path (the SVG then looks the same in any viewer, with no
 * font needed), `toPng` rasterizes at 2× on white.
 */
import { Resvg, type ResvgRenderOptions } from '@resvg/resvg-js';
import { findFonts, FONT_FAMILY } from './fonts';

function options(scale: number): ResvgRenderOptions {
  const f = findFonts();
  return {
    font: {
      fontFiles: [f.regular, f.bold],
      loadSystemFonts: false,
      defaultFontFamily: FONT_FAMILY,
      sansSerifFamily: FONT_FAMILY,
    },
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    shapeRendering: 2,
    textRendering: 1,
  };
}

/** The same picture with text converted to paths (resvg's usvg tree, serialized). */
export function outlineText(svg: string): string {
  return roundPaths(new Resvg(svg, options(1)).toString());
}

/** PNG bytes of the SVG at `scale`× its nominal size (default 2×), on a white background. */
export function toPng(svg: string, scale = 2): Buffer {
  return new Resvg(svg, options(scale)).render().asPng();
}

/** Rounds the coordinates in path data to 2 decimals (1/100 px: invisible, and the file shrinks by about half). */
function roundPaths(svg: string): string {
  return svg.replace(/ d="([^"]*)"/g, (_, d: string) => ` d="${d.replace(/-?\d+\.\d{3,}/g, (n) => String(Math.round(Number(n) * 100) / 100))}"`);
}

/** PNG bytes of the SVG scaled to `width` pixels (e.g. 3.5 in at 300 dpi = 1050), on white. */
export function toPngWidth(svg: string, width: number): Buffer {
  const o = options(1);
  return new Resvg(svg, { ...o, fitTo: { mode: 'width', value: width } }).render().asPng();
}
