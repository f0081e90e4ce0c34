/**
 * Reports from a run folder: figures (SVG with text as paths, PNG at 2×), their data as CSV,
 * LaTeX tabulars for the matrices and top regions, and one self-contained report.html.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withAtomicDir } from '../io/atomic';
import { loadRun } from './run';
import { buildReport, type BuildOptions, type Report } from './build';

export { loadRun, RUN_FILES, type RunData } from './run';
export { buildReport, FIGURES, FORMATS, type Format, type Report, type RenderedFigure, type SkippedFigure } from './build';
export { loadD3 } from './d3';
export { outlineText, toPng } from './render';

export interface WrittenReport extends Report {
  outDir: string;
  missing: string[];
  files: string[];
}

/** Reads `runDir`, builds the report and writes it to `outDir` (default `runDir/report`) atomically, replacing a previous report there. */
export async function writeReport(runDir: string, outDir = path.join(runDir, 'report'), o: BuildOptions = {}): Promise<WrittenReport> {
  const run = loadRun(runDir);
  const report = await buildReport(run, o);
  await withAtomicDir(
    outDir,
    (tmp) => {
      for (const a of report.artifacts) fs.writeFileSync(path.join(tmp, a.file), a.content);
    },
    true,
  );
  return { ...report, outDir, missing: run.missing, files: report.artifacts.map((a) => a.file) };
}
