/** `sil report RUN [--out DIR] [--format svg,png,html,csv,tex] [--top N]`: figures, tables and report.html from a run folder. */
import * as path from 'node:path';
import type { Command } from 'commander';
import { SilError } from '../errors';
import { intOption } from '../options';
import { FORMATS, writeReport, type Format } from '../report';
import { progressFor } from '../progress';

export function parseFormats(s: string): Format[] {
  const list = s
    .split(',')
    .map((x) => x.trim().toLowerCase())
    .filter(Boolean);
  const bad = list.filter((x) => !(FORMATS as readonly string[]).includes(x));
  if (bad.length || list.length === 0) {
    throw new SilError('INVALID_ARGUMENT', `--format: expected a comma-separated subset of ${FORMATS.join(',')}, found "${s}"`);
  }
  return list as Format[];
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('render figures (SVG, PNG), their data (CSV), LaTeX tables and a self-contained report.html from a run folder')
    .argument('<run>', 'run folder written by sil delta / locate / eval (e.g. reports/RUN)')
    .option('--out <dir>', 'output folder (default: <run>/report)')
    .option('--format <list>', `comma-separated formats: ${FORMATS.join(',')}`, FORMATS.join(','))
    .option('--top <n>', 'regions per language in the top-regions table', '10')
    .option('--force', 'replace a report folder that sil wrote before')
    .action(async (run: string, opts: { out?: string; format: string; top: string; force?: boolean }) => {
      const formats = parseFormats(opts.format);
      const top = intOption('--top', opts.top, 1, 1e6)!;
      const out = opts.out ?? path.join(run, 'report');
      const r = await writeReport(run, out, { formats, top, progress: progressFor(), force: opts.force });
      const lines = [`sil report: ${r.figures.length} figure(s), ${r.files.length} file(s) in ${out}`];
      if (r.missing.length) lines.push(`missing from ${run}: ${r.missing.join(', ')}`);
      for (const s of r.skipped) lines.push(`not drawn: ${s.title} (needs ${s.missing.join(', ')})`);
      process.stdout.write(lines.join('\n') + '\n');
    });
}
