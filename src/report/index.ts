/**
 * Reports from a run folder: figures (SVG with text as paths, PNG at 2×), their data as CSV,
 * LaTeX tabulars for the matrices and top regions, and one self-contained report.html.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withAtomicDir } from '../io/atomic';
import { claimOutput, prepareOutputDir, readMarker, writeMarker } from '../io/outpath';
import { checkRunFolder, loadRun, RUN_FILES } from './run';
import { SilError } from '../errors';
import { buildReport, type BuildOptions, type Report } from './build';

export { loadRun, RUN_FILES, type RunData } from './run';
export { buildReport, DEFAULT_FORMATS, FIGURES, FORMATS, WIDTHS, type Format, type Width, type Report, type RenderedFigure, type SkippedFigure } from './build';
export { loadD3 } from './d3';
export { outlineText, toPng } from './render';

export interface WrittenReport extends Report {
  outDir: string;
  missing: string[];
  files: string[];
}

/**
 * Reads `runDir`, builds the report and writes it to `outDir` (default `runDir/report`) atomically.
 * The output must not hold any file the report reads; a previous report there is replaced only
 * with `force`. A run folder that is not there, or holds none of the files a report reads, is
 * refused (FILE_NOT_FOUND) before anything is written.
 */
export async function writeReport(runDir: string, outDir = path.join(runDir, 'report'), o: BuildOptions & { force?: boolean } = {}): Promise<WrittenReport> {
  // before the output is prepared: making <run>/report would create a run folder that is not there
  checkRunFolder(runDir);
  const inputs = Object.values(RUN_FILES).map((f) => path.join(runDir, f));
  const target = prepareOutputDir({ out: outDir, kind: 'dir', inputs, force: o.force });
  const release = claimOutput(target.path, 'report');
  try {
    return await reportInto(runDir, outDir, target.path, target.replace, o);
  } finally {
    release();
  }
}

async function reportInto(runDir: string, outDir: string, targetPath: string, replace: boolean, o: BuildOptions): Promise<WrittenReport> {
  const run = loadRun(runDir);
  if (run.present.length === 0) {
    throw new SilError('FILE_NOT_FOUND', `not a run folder: none of the files sil report reads is there (${Object.values(RUN_FILES).join(', ')})`, { file: runDir });
  }
  const report = await buildReport(run, o);
  const manifest = path.join(runDir, RUN_FILES.manifest);
  const runKey = readMarker(runDir)?.key ?? null;
  await withAtomicDir(
    targetPath,
    (tmp) => {
      for (const a of report.artifacts) fs.writeFileSync(path.join(tmp, a.file), a.content);
      writeMarker(tmp, 'report', { run: path.resolve(runDir), run_key: runKey, manifest_present: fs.existsSync(manifest) });
    },
    replace,
  );
  return { ...report, outDir, missing: run.missing, files: report.artifacts.map((a) => a.file) };
}
