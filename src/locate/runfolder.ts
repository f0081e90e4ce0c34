/**
 * A `sil locate` run folder across re-runs. The folder's marker (io/outpath.ts) records the key of
 * the results in it (a hash of every input and option), the files the run wrote, and the key of a
 * run in progress. Then:
 *
 * - a new or empty folder, or one that holds no results yet (an interrupted run: caches only), is
 *   used as it is; an interrupted run resumes from its caches;
 * - a re-run with the same key (or the key of the run in progress) resumes or rewrites the same
 *   results, without `--force`;
 * - a run with another key replaces earlier results only with `--force`; it then removes what the
 *   earlier run wrote and this one did not, and the outputs derived from the earlier results
 *   (a `sil report` of the folder, `sil eval` rows of checkpoints made from its masks), and says so;
 * - files the user put there (e.g. `masks/agnostic.safetensors` from `sil mask eval`) and the
 *   gradient caches are never removed;
 * - a non-empty folder that sil did not create, or that another command wrote, is refused when it
 *   has any name a run writes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SilError } from '../errors';
import { writeFileAtomic } from '../io/atomic';
import { MARKER_FILE, readMarker, writeMarker } from '../io/outpath';
import type { OutputMarker } from '../io/outpath';
import { parseCsv, toCsv } from '../io/csv';

/** Top-level names a run writes (besides the cache, which it keeps). */
export const RUN_OUTPUTS = ['masks', 'delta', 'cache', 'layers.csv', 'regions.csv', 'overlap.csv', 'manifest.json', 'summary.md'] as const;

export interface RunFolderState {
  /** the folder's marker before this run (null: new folder, or one without a marker) */
  previous: OutputMarker | null;
  /** this run replaces results of another key (it was given --force) */
  replacing: boolean;
  /** the folder did not exist before this run */
  created: boolean;
}

function hasResults(m: OutputMarker | null): boolean {
  return !!m && Array.isArray(m.files) && m.files.length > 0;
}

/**
 * Decides whether this run may use `out` (already checked by checkOutputPath), and marks the
 * folder as a run in progress with `key`. Throws OUTPUT_EXISTS before anything is written otherwise.
 */
export function openRunFolder(out: string, key: string, force: boolean): RunFolderState {
  const created = !fs.existsSync(out);
  const entries = created ? [] : fs.readdirSync(out);
  const previous = created ? null : readMarker(out);
  if (!created && entries.length > 0) {
    if (!previous) {
      // a cache alone (e.g. copied from another run) is reused: its files are checked by their keys
      const clash = entries.filter((e) => e !== 'cache' && (RUN_OUTPUTS as readonly string[]).includes(e));
      if (clash.length > 0) {
        throw new SilError(
          'OUTPUT_EXISTS',
          `--out ${out} holds ${clash.join(', ')} but no ${MARKER_FILE}: sil did not create it (or an older version did), and it is not replaced even with --force — choose a new folder or move this one away`,
          { file: out },
        );
      }
    } else if (previous.command !== 'locate') {
      throw new SilError('OUTPUT_EXISTS', `--out ${out} is the output of sil ${previous.command}, not a locate run folder; choose another folder`, { file: out });
    } else if (hasResults(previous) && previous.key !== key && previous.pending !== key && !force) {
      throw new SilError(
        'OUTPUT_EXISTS',
        `--out ${out} holds the results of a run with other inputs or options; pass --force to replace them (the gradient caches are kept, files you added are left alone), or choose another folder`,
        { file: out },
      );
    }
  }
  fs.mkdirSync(out, { recursive: true });
  const replacing = hasResults(previous) && previous!.key !== key;
  writeMarker(out, 'locate', { key: previous?.key ?? null, files: previous?.files ?? [], pending: key } as Partial<OutputMarker>);
  return { previous, replacing, created };
}

/** Every file under `dir`, relative, with `/` separators. */
export function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(path.join(dir, e.name), rel));
    else out.push(rel);
  }
  return out.sort();
}

/**
 * After the results were moved into `out`: removes what the previous results had and these do
 * not, and (when the key changed) the derived outputs; records the new results in the marker.
 * Returns notes for the user.
 */
export function finishRunFolder(out: string, state: RunFolderState, key: string, written: string[]): string[] {
  const notes: string[] = [];
  const prevFiles = state.previous?.key !== undefined && Array.isArray(state.previous?.files) ? state.previous!.files! : [];
  const stale = prevFiles.filter((f) => !written.includes(f) && !f.startsWith('cache/'));
  for (const f of stale) fs.rmSync(path.join(out, f), { force: true });
  if (stale.length) notes.push(`removed ${stale.length} file(s) of the earlier results that this run does not write: ${stale.join(', ')}`);
  if (state.replacing) notes.push(...removeDerived(out));
  writeMarker(out, 'locate', { key, files: written });
  return notes;
}

/** A report of the folder, and eval rows of checkpoints made from the folder's masks. */
function removeDerived(out: string): string[] {
  const notes: string[] = [];
  const report = path.join(out, 'report');
  const rm = readMarker(report);
  if (rm && rm.command === 'report') {
    fs.rmSync(report, { recursive: true, force: true });
    notes.push(`removed report/: it showed the earlier results (run sil report again)`);
  } else if (fs.existsSync(report)) {
    notes.push(`report/ was not written by this version of sil report and may show the earlier results`);
  }
  const evalDir = path.join(out, 'eval');
  const em = readMarker(evalDir);
  const models = (em?.models ?? {}) as Record<string, { mask?: string | null }>;
  const masks = path.join(fs.realpathSync(out), 'masks') + path.sep;
  const stale = Object.entries(models)
    .filter(([, v]) => typeof v?.mask === 'string' && v.mask.startsWith(masks))
    .map(([k]) => k);
  if (stale.length) {
    for (const f of fs.readdirSync(evalDir)) {
      const file = path.join(evalDir, f);
      if (f.endsWith('.csv')) dropCsvRows(file, stale);
      else if (f.endsWith('.jsonl')) dropJsonlRows(file, stale);
    }
    for (const s of stale) delete models[s];
    writeMarker(evalDir, 'eval', { models });
    notes.push(`removed the eval/ rows of ${stale.join(', ')}: those checkpoints were made from the earlier masks`);
  }
  return notes;
}

function dropCsvRows(file: string, models: string[]): void {
  const t = parseCsv(fs.readFileSync(file, 'utf8'));
  if (!t.header.includes('model')) return;
  const rows = t.rows.filter((r) => !models.includes(r.model)).map((r) => t.header.map((h) => r[h]));
  writeFileAtomic(file, toCsv(t.header, rows));
}

function dropJsonlRows(file: string, models: string[]): void {
  const keep = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => {
      if (l.trim() === '') return false;
      try {
        return !models.includes(String((JSON.parse(l) as { model?: unknown }).model));
      } catch {
        return true;
      }
    });
  writeFileAtomic(file, keep.length ? keep.join('\n') + '\n' : '');
}
