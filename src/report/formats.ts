/** `sil report`'s output formats and paper widths (build.ts renders them): plain data, loaded without the renderers. */
export const FORMATS = ['svg', 'png', 'html', 'csv', 'tex', 'pdf'] as const;
export type Format = (typeof FORMATS)[number];
/** What `sil report` writes when no --format is given (PDF on request). */
export const DEFAULT_FORMATS: Format[] = ['svg', 'png', 'html', 'csv', 'tex'];
export const WIDTHS = ['column', 'page'] as const;
export type Width = (typeof WIDTHS)[number];
