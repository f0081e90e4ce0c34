/**
 * `sil report RUN [--out DIR] [--format svg,png,html,csv,tex,pdf] [--top N] [--width column|page]
 * [--absolute] [--langs a,b]`: figures, tables and report.html from a run folder.
 */
import * as path from 'node:path';
import type { Command } from 'commander';
import { load } from './lazy';
import { SilError } from '../errors';
import { intOption } from '../options';
import { DEFAULT_FORMATS, FORMATS, WIDTHS, type Format, type Width } from '../report/formats';
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
    .option('--format <list>', `comma-separated formats: ${FORMATS.join(',')} (pdf: vector, one page per figure)`, DEFAULT_FORMATS.join(','))
    .option('--width <w>', 'lay figures out for a paper: column (3.5 in) or page (7 in); PNGs at 300 dpi of that width')
    .option('--absolute', 'absolute sums (score mass, ‖Δ‖₂, regions by score mass) instead of the per-parameter defaults')
    .option('--langs <list>', 'languages to show, in this order (default: the run’s)')
    .option('--top <n>', 'regions per language in the top-regions table', '10')
    .option('--force', 'replace a report folder that sil wrote before')
    .action(async (run: string, opts: { out?: string; format: string; top: string; force?: boolean; width?: string; absolute?: boolean; langs?: string }) => {
      const formats = parseFormats(opts.format);
      if (opts.width !== undefined && !(WIDTHS as readonly string[]).includes(opts.width)) throw new SilError('INVALID_ARGUMENT', `--width: expected ${WIDTHS.join(' or ')}, found "${opts.width}"`);
      const langs =
        opts.langs === undefined
          ? undefined
          : opts.langs
              .split(',')
              .map((x) => x.trim())
              .filter(Boolean);
      if (langs && langs.length === 0) throw new SilError('INVALID_ARGUMENT', '--langs lists no language');
      const top = intOption('--top', opts.top, 1, 1e6)!;
      const out = opts.out ?? path.join(run, 'report');
      const { writeReport } = load<typeof import('../report')>('../report');
      const r = await writeReport(run, out, { formats, top, progress: progressFor(), force: opts.force, width: opts.width as Width | undefined, absolute: opts.absolute, langs });
      const lines = [`sil report: ${r.figures.length} figure(s), ${r.files.length} file(s) in ${out}`];
      if (r.missing.length) lines.push(`missing from ${run}: ${r.missing.join(', ')}`);
      for (const s of r.skipped) lines.push(`not drawn: ${s.title} (needs ${s.missing.join(', ')})`);
      process.stdout.write(lines.join('\n') + '\n');
    });
}
