/**
 * Vector PDF from a figure's SVG, with PDFKit and SVG-to-PDFKit (made for drawing SVG into PDFKit
 * documents): the page is the figure's size in points, paths stay paths. The SVG given is the one
 * with text already converted to paths, so the PDF needs no font and looks like the SVG and PNG.
 */
import PDFDocument from 'pdfkit';
import SVGtoPDF from 'svg-to-pdfkit';

/** The physical size of the SVG root (its width/height, in pt: in → ×72, px/no unit → ×0.75). */
export function svgSizePt(svg: string): { width: number; height: number } {
  const root = /<svg\b[^>]*>/.exec(svg)?.[0] ?? '';
  const len = (name: string): number => {
    const m = new RegExp(`\\s${name}="([0-9.]+)(in|pt|px)?"`).exec(root);
    if (!m) return NaN;
    const v = Number(m[1]);
    return m[2] === 'in' ? v * 72 : m[2] === 'pt' ? v : v * 0.75;
  };
  return { width: len('width'), height: len('height') };
}

/** PDF bytes of the SVG, one page of exactly its size. */
export function toPdf(svg: string): Promise<Buffer> {
  const { width, height } = svgSizePt(svg);
  return new Promise((resolve, reject) => {
    const doc = new PDFDocument({ size: [width, height], margin: 0, autoFirstPage: true, info: { Producer: 'sil', Creator: 'sil report' } });
    const chunks: Buffer[] = [];
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
    SVGtoPDF(doc, svg, 0, 0, { width, height, preserveAspectRatio: 'xMinYMin meet', assumePt: false });
    doc.end();
  });
}
