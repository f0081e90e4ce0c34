/**
 * Reads a run folder (docs/run-folder.md) into typed tables. Every file is optional: what is
 * absent is listed in `missing`, what cannot be parsed throws a SilError naming the file and the
 * column, so a report renders whatever the run has and says what it lacks.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LayerKindRow } from '../delta/rollup';
import { SilError } from '../errors';
import type { OverlapRow } from '../locate/combine';
import type { LayerRow } from '../mask/layers';
import type { RegionRow as WrittenRegionRow } from '../mask/regions';
import { readTextInput } from '../data/text';
import { parseCsv, type CsvTable } from '../io/csv';
import { LAYERS_CSV_COLUMNS, LAYERS_DELTA_COLUMNS as LAYERS_DELTA, LAYERS_SCORE_COLUMNS as LAYERS_SCORE, splitLayersTable } from '../io/layers-csv';
import { violationRecordsFromTable, type ViolationRecord } from '../eval/conditions';

/** A Δ row of `layers.csv` (sil delta; delta/layers.csv in a run folder): ‖Δ‖ statistics per decoder layer × module kind. */
export type DeltaLayerRow = Pick<LayerKindRow, 'layer' | 'kind' | 'numel' | (typeof LAYERS_DELTA)[number]>;

/** A score row of `layers.csv` (sil locate): score mass and selection per language × layer × kind. */
export type LocateLayerRow = LayerRow;

/** One row of `regions.csv`, with the unit and its index as written (text). */
export type RegionRow = Omit<WrittenRegionRow, 'unit' | 'index'> & { unit: string; index: string };

export type { OverlapRow };

/** One row of eval/violations.csv: one condition × evaluation language (src/eval/conditions.ts). */
export type ViolationRow = ViolationRecord;

export interface KSweepRow {
  method: string;
  k: number;
  eval_lang: string;
  violation_rate: number;
}

/** The files `sil report` reads, relative to the run folder. */
export const RUN_FILES = {
  manifest: 'manifest.json',
  summary: 'summary.md',
  deltaLayers: 'delta/layers.csv',
  layers: 'layers.csv',
  regions: 'regions.csv',
  overlap: 'overlap.csv',
  violations: 'eval/violations.csv',
  kSweep: 'eval/k_sweep.csv',
} as const;

export type RunFileKey = keyof typeof RUN_FILES;

export interface RunData {
  dir: string;
  manifest?: Record<string, unknown>;
  summary?: string;
  deltaLayers?: DeltaLayerRow[];
  layers?: LocateLayerRow[];
  regions?: RegionRow[];
  overlap?: OverlapRow[];
  violations?: ViolationRow[];
  kSweep?: KSweepRow[];
  /** run-folder files that were looked for and not found (relative paths) */
  missing: string[];
  /** run-folder files that were read (relative paths, as found) */
  present: string[];
}

/**
 * Column kinds: text, a layer index (or empty), and numbers with their ranges — `frac` in [0, 1],
 * `count` a non-negative integer, `rank` a positive integer, `mag` a non-negative magnitude up to
 * `MAX_MAGNITUDE`, `cos` in [−1, 1]. Nothing a run writes lies outside them; a value that does
 * (−1 selected, 1e308, which renders as "Infinity") is a damaged file and is refused.
 */
type Conv = 'str' | 'layer' | 'frac' | 'count' | 'rank' | 'mag' | 'cos';

/** Largest magnitude (norms, score masses) a run file may hold: far above any real value, far below overflow. */
export const MAX_MAGNITUDE = 1e30;

const RANGES: Record<Exclude<Conv, 'str' | 'layer'>, { ok: (v: number) => boolean; what: string }> = {
  frac: { ok: (v) => v >= 0 && v <= 1, what: 'a number from 0 to 1' },
  count: { ok: (v) => Number.isSafeInteger(v) && v >= 0, what: 'a non-negative integer' },
  rank: { ok: (v) => Number.isSafeInteger(v) && v >= 1, what: 'a positive integer' },
  mag: { ok: (v) => v >= 0 && v <= MAX_MAGNITUDE, what: `a non-negative number up to ${MAX_MAGNITUDE}` },
  cos: { ok: (v) => v >= -1 && v <= 1, what: 'a number from −1 to 1' },
};

function convert<T>(table: CsvTable, file: string, spec: Record<keyof T & string, Conv>): T[] {
  const cols = Object.keys(spec) as Array<keyof T & string>;
  const absent = cols.filter((c) => !table.header.includes(c));
  if (absent.length) {
    throw new SilError('INVALID_DATA', `missing column(s) ${absent.join(', ')}; expected ${cols.join(',')}, found ${table.header.join(',')}`, { file });
  }
  return table.rows.map((r, i) => {
    const o: Record<string, unknown> = {};
    for (const c of cols) {
      const raw = r[c].trim();
      const kind = spec[c];
      if (kind === 'str') o[c] = raw;
      else if (kind === 'layer') {
        const v = Number(raw);
        if (raw !== '' && !(Number.isSafeInteger(v) && v >= 0))
          throw new SilError('INVALID_DATA', `row ${i + 2}, column ${c}: expected a layer index (a non-negative integer) or nothing, found "${raw}"`, { file });
        o[c] = raw === '' ? null : v;
      } else {
        const v = Number(raw);
        const range = RANGES[kind as Exclude<Conv, 'str' | 'layer'>];
        if (raw === '' || !Number.isFinite(v) || !range.ok(v)) {
          throw new SilError('INVALID_DATA', `row ${i + 2}, column ${c}: expected ${range.what}, found "${raw}"`, { file });
        }
        o[c] = v;
      }
    }
    return o as T;
  });
}

const DELTA_SPEC = { layer: 'layer', kind: 'str', numel: 'count', l1: 'mag', l2: 'mag', max_abs: 'mag', mean_abs: 'mag', rel_l2: 'mag', frac_changed: 'frac' } as const;
const LAYERS_SPEC = { lang: 'str', layer: 'layer', kind: 'str', numel: 'count', score_mass: 'mag', score_share: 'frac', selected: 'count', selected_fraction: 'frac' } as const;
const REGIONS_SPEC = { rank: 'rank', lang: 'str', tensor: 'str', layer: 'layer', kind: 'str', unit: 'str', index: 'str', size: 'count', score_mass: 'mag', selected_share: 'frac' } as const;
const OVERLAP_SPEC = { a: 'str', b: 'str', sir: 'frac', iou: 'frac', cosine: 'cos' } as const;
const KSWEEP_SPEC = { method: 'str', k: 'frac', eval_lang: 'str', violation_rate: 'frac' } as const;

/**
 * Checks the manifest fields a report shows or uses: an object; `languages` a list of names; `k` and
 * `expected_random_sir` in (0, 1]; `global_sir` in [0, 1] or null; counts non-negative integers;
 * `options`, `inputs`, `calibration`, `masks` objects. INVALID_DATA names the file and the field.
 */
export function validateManifest(m: unknown, file: string): Record<string, unknown> {
  const bad = (field: string, what: string, v: unknown): never => {
    throw new SilError('INVALID_DATA', `"${field}" must be ${what}, found ${JSON.stringify(v) ?? String(v)}`, { file });
  };
  if (m === null || typeof m !== 'object' || Array.isArray(m)) bad('manifest', 'a JSON object', m);
  const o = m as Record<string, unknown>;
  const has = (k: string) => o[k] !== undefined;
  if (has('command') && typeof o.command !== 'string') bad('command', 'a string', o.command);
  if (has('languages') && !(Array.isArray(o.languages) && o.languages.every((l) => typeof l === 'string'))) bad('languages', 'a list of language names', o.languages);
  for (const k of ['k', 'expected_random_sir']) if (has(k) && !(typeof o[k] === 'number' && (o[k] as number) > 0 && (o[k] as number) <= 1)) bad(k, 'a fraction in (0, 1]', o[k]);
  if (has('global_sir') && o.global_sir !== null && !(typeof o.global_sir === 'number' && o.global_sir >= 0 && o.global_sir <= 1)) bad('global_sir', 'a number from 0 to 1, or null', o.global_sir);
  for (const k of ['n_params', 'n_in_scope', 'seed']) if (has(k) && !(typeof o[k] === 'number' && Number.isSafeInteger(o[k]) && (o[k] as number) >= 0)) bad(k, 'a non-negative integer', o[k]);
  for (const k of ['options', 'inputs', 'calibration', 'masks', 'timings']) {
    if (has(k) && o[k] !== null && (typeof o[k] !== 'object' || Array.isArray(o[k]))) bad(k, 'an object', o[k]);
  }
  return o;
}

/** FILE_NOT_FOUND unless `dir` is an existing folder. */
export function checkRunFolder(dir: string): void {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new SilError('FILE_NOT_FOUND', 'run folder not found', { file: dir });
  }
}

/**
 * Loads every known file of the run folder `dir`. Both layers.csv files have one format
 * (io/layers-csv.ts): the Δ rows come from `delta/layers.csv`, the score rows from the top-level
 * `layers.csv`. `sil delta --out DIR` run on its own puts its tables directly in DIR: the Δ rows of
 * a top-level `layers.csv` are read as the delta table when there is no `delta/layers.csv`.
 */
export function loadRun(dir: string): RunData {
  checkRunFolder(dir);
  const run: RunData = { dir, missing: [], present: [] };
  const read = (rel: string): string | undefined => {
    const p = path.join(dir, rel);
    return fs.existsSync(p) && fs.statSync(p).isFile() ? readTextInput(p, rel) : undefined;
  };
  const csv = (rel: string): CsvTable | undefined => {
    const t = read(rel);
    return t === undefined ? undefined : parseCsv(t, path.join(dir, rel));
  };
  const note = (rel: string, found: boolean) => (found ? run.present : run.missing).push(rel);
  const layerTables = (rel: string) => {
    const t = csv(rel);
    if (!t) return undefined;
    const parts = splitLayersTable(t);
    if (parts.empty.length) {
      throw new SilError('INVALID_DATA', `row ${parts.empty[0]}: neither the Δ columns (${LAYERS_DELTA.join(',')}) nor the score columns (${LAYERS_SCORE.join(',')}) hold a value`, {
        file: path.join(dir, rel),
      });
    }
    return parts;
  };

  const manifestText = read(RUN_FILES.manifest);
  note(RUN_FILES.manifest, manifestText !== undefined);
  if (manifestText !== undefined) {
    try {
      run.manifest = JSON.parse(manifestText) as Record<string, unknown>;
    } catch (e) {
      throw new SilError('INVALID_DATA', `not JSON: ${(e as Error).message}`, { file: path.join(dir, RUN_FILES.manifest) });
    }
    run.manifest = validateManifest(run.manifest, path.join(dir, RUN_FILES.manifest));
  }
  run.summary = read(RUN_FILES.summary);
  note(RUN_FILES.summary, run.summary !== undefined);

  const top = layerTables(RUN_FILES.layers);
  const deltaFile = layerTables(RUN_FILES.deltaLayers);
  // a file with rows of neither kind (a header only) reads as an empty table of the kind its name says
  const none = (t?: { delta?: CsvTable; score?: CsvTable }) => !!t && !t.delta && !t.score;
  const emptyTable = (): CsvTable => ({ header: [...LAYERS_CSV_COLUMNS], rows: [] });
  let delta = none(deltaFile) ? emptyTable() : deltaFile?.delta;
  let deltaRel: string = RUN_FILES.deltaLayers;
  if (!deltaFile && top?.delta) {
    delta = top.delta;
    deltaRel = RUN_FILES.layers;
  }
  note(deltaRel, !!delta);
  if (delta) run.deltaLayers = convert<DeltaLayerRow>(delta, path.join(dir, deltaRel), DELTA_SPEC);
  const score = none(top) ? emptyTable() : top?.score;
  note(RUN_FILES.layers, !!score);
  if (score) run.layers = convert<LocateLayerRow>(score, path.join(dir, RUN_FILES.layers), LAYERS_SPEC);

  const tables: Array<[RunFileKey, keyof RunData, Record<string, Conv>]> = [
    ['regions', 'regions', REGIONS_SPEC],
    ['overlap', 'overlap', OVERLAP_SPEC],
    ['violations', 'violations', {}],
    ['kSweep', 'kSweep', KSWEEP_SPEC],
  ];
  for (const [key, field, spec] of tables) {
    const rel = RUN_FILES[key];
    const t = csv(rel);
    note(rel, !!t);
    // eval/violations.csv: with conditions, or as written before them (each model its own condition)
    if (t && key === 'violations') run.violations = violationRecordsFromTable(t.header, t.rows, path.join(dir, rel));
    else if (t) (run as unknown as Record<string, unknown>)[field] = convert(t, path.join(dir, rel), spec as never);
  }
  return run;
}
