/**
 * Output-path safety, one rule for every command that writes:
 *
 * - `--out` must not be empty;
 * - it must not equal, contain or lie inside any of the command's inputs (checkpoints, masks, run
 *   folders, data files), compared after resolving symlinks;
 * - a folder output must not be an existing file (or lie under one), a file output must not be an
 *   existing folder;
 * - an existing output is overwritten only with `--force`, and a non-empty folder is replaced only
 *   when sil itself created it (it holds the marker file `.sil-output.json`).
 *
 * Every refusal is a SilError thrown before anything is written.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SilError } from '../errors';
import { SIL_VERSION } from '../version';
import { writeFileAtomic } from './atomic';
import { acquireLock } from './lock';
import { sweepStaleTemps } from './temp';

/** The file that marks a folder as written by sil (command, version, and what it wrote). */
export const MARKER_FILE = '.sil-output.json';

export interface OutputMarker {
  sil_output: 1;
  command: string;
  version: string;
  created: string;
  /** hash of the inputs and options the outputs were made from, where the command has one */
  key?: string;
  /** files the command wrote, relative to the folder, where the command records them */
  files?: string[];
  /** anything else the command wants to find again (e.g. the run a report was made from) */
  [extra: string]: unknown;
}

/**
 * The absolute path of `p` with every symlink resolved: the longest existing prefix goes through
 * `realpath`, the rest is appended. A prefix that is an existing file (so `p` cannot be created)
 * is reported through `underFile`.
 */
export function resolveReal(p: string): { real: string; underFile: string | null } {
  const abs = path.resolve(p);
  const rest: string[] = [];
  let cur = abs;
  for (;;) {
    let st: fs.Stats | null = null;
    try {
      st = fs.statSync(cur);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // ENOTDIR: a component above is a file; keep walking up to find it
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw e;
    }
    if (st) {
      const real = fs.realpathSync(cur);
      const underFile = rest.length > 0 && !st.isDirectory() ? real : null;
      return { real: rest.length ? path.join(real, ...rest.reverse()) : real, underFile };
    }
    const parent = path.dirname(cur);
    if (parent === cur) return { real: abs, underFile: null };
    rest.push(path.basename(cur));
    cur = parent;
  }
}

function inside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** How `out` and an input overlap, or null. */
export function overlap(out: string, input: string): 'is' | 'contains' | 'inside' | null {
  if (out === input) return 'is';
  if (inside(input, out)) return 'contains';
  if (inside(out, input)) return 'inside';
  return null;
}

export interface OutputSpec {
  /** the option that names the output, for messages (default `--out`) */
  option?: string;
  /** the output as given on the command line */
  out: string | undefined;
  /** a folder the command builds, or one file */
  kind: 'dir' | 'file';
  /**
   * every path the command reads. A path with `{lang}` (a per-language pattern) stands for the
   * folder above its first templated component.
   */
  inputs: ReadonlyArray<string | null | undefined | false>;
}

function templateRoot(p: string): string {
  const i = p.indexOf('{');
  if (i < 0) return p;
  const head = p.slice(0, i);
  return head.endsWith(path.sep) || head.endsWith('/') ? head : path.dirname(head + 'x');
}

/**
 * Checks `spec.out` against the path rules (empty, overlap with an input, file vs folder) and
 * returns its resolved absolute path. Writes nothing.
 */
export function checkOutputPath(spec: OutputSpec): string {
  const opt = spec.option ?? '--out';
  const out = spec.out;
  if (out === undefined || out.trim() === '') throw new SilError('INVALID_ARGUMENT', `${opt} is empty; name the ${spec.kind === 'dir' ? 'folder' : 'file'} to write`);
  const { real, underFile } = resolveReal(out);
  if (underFile) throw new SilError('OUTPUT_NOT_A_FOLDER', `${opt} ${out} lies under ${underFile}, which is a file`, { file: out });
  for (const given of spec.inputs) {
    if (!given) continue;
    const input = resolveReal(templateRoot(given)).real;
    const how = overlap(real, input);
    if (how === null) continue;
    const what = how === 'is' ? 'is' : how === 'contains' ? 'contains' : 'lies inside';
    throw new SilError('OUTPUT_IS_INPUT', `${opt} ${out} ${what} the input ${given}; sil never writes into or replaces its own inputs, choose another ${spec.kind === 'dir' ? 'folder' : 'file'}`, {
      file: out,
    });
  }
  let st: fs.Stats | null = null;
  try {
    st = fs.statSync(real);
  } catch {
    st = null;
  }
  if (st && spec.kind === 'dir' && !st.isDirectory()) throw new SilError('OUTPUT_NOT_A_FOLDER', `${opt} ${out} is an existing file, but a folder is written there`, { file: out });
  if (st && spec.kind === 'file' && st.isDirectory()) throw new SilError('OUTPUT_IS_A_FOLDER', `${opt} ${out} is an existing folder, but a file is written there`, { file: out });
  return real;
}

/** The marker of `dir`, or null when it has none (or an unreadable one). */
export function readMarker(dir: string): OutputMarker | null {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(dir, MARKER_FILE), 'utf8')) as OutputMarker;
    return m && typeof m === 'object' && m.sil_output === 1 && typeof m.command === 'string' ? m : null;
  } catch {
    return null;
  }
}

/** Writes the marker of a folder that `command` created (into `dir`, atomically). */
export function writeMarker(dir: string, command: string, extra: Partial<OutputMarker> = {}): OutputMarker {
  const m: OutputMarker = { sil_output: 1, command, version: SIL_VERSION, created: new Date().toISOString(), ...extra };
  writeFileAtomic(path.join(dir, MARKER_FILE), JSON.stringify(m, null, 2) + '\n');
  return m;
}

function isEmptyDir(dir: string): boolean {
  return fs.readdirSync(dir).length === 0;
}

export interface PreparedDir {
  /** resolved absolute path */
  path: string;
  /** the folder exists and is not empty (a `--force` replacement) */
  replace: boolean;
  /** its marker, when sil created it */
  marker: OutputMarker | null;
}

/**
 * A folder output that the command replaces as a whole (a checkpoint, a delta or a report folder):
 * path rules, then an existing non-empty folder only with `force`, and only one that sil created.
 */
export function prepareOutputDir(spec: OutputSpec & { force?: boolean; forceOption?: string }): PreparedDir {
  const real = checkOutputPath({ ...spec, kind: 'dir' });
  const opt = spec.option ?? '--out';
  if (!fs.existsSync(real) || isEmptyDir(real)) return { path: real, replace: false, marker: null };
  const marker = readMarker(real);
  if (!marker) {
    throw new SilError(
      'OUTPUT_EXISTS',
      `${opt} ${spec.out} is a folder that sil did not create (it has no ${MARKER_FILE}) and is not empty; sil replaces only its own folders, even with --force — choose a new folder or empty this one yourself`,
      { file: spec.out },
    );
  }
  if (!spec.force) throw new SilError('OUTPUT_EXISTS', `${opt} ${spec.out} exists (written by sil ${marker.command}); pass ${spec.forceOption ?? '--force'} to replace it`, { file: spec.out });
  return { path: real, replace: true, marker };
}

/** A file output: path rules, then an existing file only with `force`. Returns the resolved path. */
export function prepareOutputFile(spec: Omit<OutputSpec, 'kind'> & { force?: boolean }): string {
  const real = checkOutputPath({ ...spec, kind: 'file' });
  if (fs.existsSync(real) && !spec.force) throw new SilError('OUTPUT_EXISTS', `${spec.option ?? '--out'} ${spec.out} exists; pass --force to overwrite it`, { file: spec.out });
  return real;
}

/**
 * Takes an output for this process: its lock (a second writer gets LOCKED), then removes the
 * temps that dead processes left beside it, in it and in `more` folders. Returns the release.
 */
export function claimOutput(out: string, command: string, more: string[] = []): () => void {
  const release = acquireLock(out, command);
  try {
    sweepStaleTemps([path.dirname(path.resolve(out)), out, ...more]);
  } catch (e) {
    release();
    throw e;
  }
  return release;
}
