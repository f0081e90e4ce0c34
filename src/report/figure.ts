/**
 * A figure as the report holds it (rendered, or skipped for want of run files): what build.ts
 * produces and html.ts lays out. Plain types.
 */
export interface RenderedFigure {
  id: string;
  title: string;
  caption: string;
  /** SVG as built, with <text> (what the tests inspect) */
  sourceSvg: string;
  /** SVG with text converted to paths (what is written and inlined) */
  svg: string;
  csv: string;
  tex?: string;
  /** an HTML table of the same numbers, for matrices */
  tableHtml?: string;
  /** a finding in words (e.g. whether cross-language SIR is above the benign baseline) */
  finding?: string;
}

export interface SkippedFigure {
  id: string;
  title: string;
  missing: string[];
}
