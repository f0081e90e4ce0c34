/**
 * Reads a run folder (docs/run-folder.md) into typed tables. Every file is optional: what is
 * absent is listed in `missing`, what cannot be parsed throws a SilError naming the file and the
 * column, so a report renders whatever the run has and says what it lacks.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LAYER_COLUMNS as DELTA_LAYER_COLUMNS } from '../delta/report';
import type { LayerKindRow } from '../delta/rollup';
import { SilError } from '../errors';
import type { OverlapRow } from '../locate/combine';
import type { LayerRow } from '../mask/layers';
import type { RegionRow as WrittenRegionRow } from '../mask/regions';
import { parseCsv, type CsvTable } from './csv';
import { violationRecordsFromTable, type ViolationRecord } from '../eval/conditions';

/** One row of `delta/layers.csv`: ‖Δ‖ statistics per decoder layer × module kind. */
export type DeltaLayerRow = Pick<LayerKindRow, (typeof DELTA_LAYER_COLUMNS)[number]>;

/** One row of `layers.csv` (sil locate): score mass and selection per language × layer × kind. */
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

type Conv = 'str' | 'num' | 'int' | 'layer';

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
      else if (kind === 'layer' && raw === '') o[c] = null;
      else {
        const v = Number(raw);
        if (raw === '' || !Number.isFinite(v) || (kind !== 'num' && !Number.isInteger(v))) {
          throw new SilError('INVALID_DATA', `row ${i + 2}, column ${c}: expected ${kind === 'num' ? 'a number' : 'an integer'}, found "${raw}"`, { file });
        }
        o[c] = v;
      }
    }
    return o as T;
  });
}

const DELTA_SPEC = { layer: 'layer', kind: 'str', numel: 'num', l1: 'num', l2: 'num', max_abs: 'num', mean_abs: 'num', rel_l2: 'num', frac_changed: 'num' } as const;
const LAYERS_SPEC = { lang: 'str', layer: 'layer', kind: 'str', numel: 'num', score_mass: 'num', score_share: 'num', selected: 'num', selected_fraction: 'num' } as const;
const REGIONS_SPEC = { rank: 'int', lang: 'str', tensor: 'str', layer: 'layer', kind: 'str', unit: 'str', index: 'str', size: 'num', score_mass: 'num', selected_share: 'num' } as const;
const OVERLAP_SPEC = { a: 'str', b: 'str', sir: 'num', iou: 'num', cosine: 'num' } as const;
const KSWEEP_SPEC = { method: 'str', k: 'num', eval_lang: 'str', violation_rate: 'num' } as const;

/**
 * Loads every known file of the run folder `dir`. `sil delta --out DIR` run on its own puts its
 * tables directly in DIR: a top-level `layers.csv` with an `l2` column and no `lang` column is read
 * as the delta table.
 */
export function loadRun(dir: string): RunData {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new SilError('FILE_NOT_FOUND', 'run folder not found', { file: dir });
  }
  const run: RunData = { dir, missing: [], present: [] };
  const read = (rel: string): string | undefined => {
    const p = path.join(dir, rel);
    return fs.existsSync(p) && fs.statSync(p).isFile() ? fs.readFileSync(p, 'utf8') : undefined;
  };
  const csv = (rel: string): CsvTable | undefined => {
    const t = read(rel);
    return t === undefined ? undefined : parseCsv(t);
  };
  const note = (rel: string, found: boolean) => (found ? run.present : run.missing).push(rel);

  const manifestText = read(RUN_FILES.manifest);
  note(RUN_FILES.manifest, manifestText !== undefined);
  if (manifestText !== undefined) {
    try {
      run.manifest = JSON.parse(manifestText) as Record<string, unknown>;
    } catch (e) {
      throw new SilError('INVALID_DATA', `not JSON: ${(e as Error).message}`, { file: path.join(dir, RUN_FILES.manifest) });
    }
  }
  run.summary = read(RUN_FILES.summary);
  note(RUN_FILES.summary, run.summary !== undefined);

  const topLayers = csv(RUN_FILES.layers);
  const topIsDelta = !!topLayers && topLayers.header.includes('l2') && !topLayers.header.includes('lang');
  let delta = csv(RUN_FILES.deltaLayers);
  let deltaRel: string = RUN_FILES.deltaLayers;
  if (!delta && topIsDelta) {
    delta = topLayers;
    deltaRel = RUN_FILES.layers;
  }
  note(deltaRel, !!delta);
  if (delta) run.deltaLayers = convert<DeltaLayerRow>(delta, path.join(dir, deltaRel), DELTA_SPEC);
  if (!topIsDelta) {
    note(RUN_FILES.layers, !!topLayers);
    if (topLayers) run.layers = convert<LocateLayerRow>(topLayers, path.join(dir, RUN_FILES.layers), LAYERS_SPEC);
  } else {
    run.missing.push(RUN_FILES.layers);
  }

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
