/**
 * `sil sweep`: violation rate versus k. For every method × k: `sil locate` (score = method, the
 * mask of one language, `--no-benign`), `sil stitch` of that mask into the base (θ = θpre + γ ⊙ Δ),
 * `sil eval` of the stitched checkpoint in every evaluation language, as the condition
 * `stitch=<method>,k=<k>`; then `eval/k_sweep.csv` and the figure.
 *
 * Layout in the run folder `out`:
 *   sweep/sweep.json                 the settings (and their key) the points were made with
 *   sweep/<method>/k-<k>/            the locate run of each point (masks, manifest; gradient
 *                                    caches are hard-linked from the method's first point, so
 *                                    gradients are computed once per method)
 *   sweep/models/<method>-k<k>/      the stitched checkpoint, removed once evaluated unless `keep`
 *   sweep/eval/                      the eval rows of every point (conditions stitch=…)
 *   eval/k_sweep.csv                 method,k,eval_lang,n,violations,violation_rate,ci_low,ci_high,condition_id
 *   eval/k-sweep.{svg,png,csv}       the figure (the same as `sil report` draws)
 *
 * Resumable: a point whose evaluation is in sweep/eval/ for every language is not run again;
 * an interrupted run continues where it stopped. Settings other than those of sweep.json stop
 * with OUTPUT_EXISTS unless `force`, which starts the sweep over.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SILENT, type Progress } from '../progress';
import { SilError } from '../errors';
import { writeFileAtomic } from '../io/atomic';
import { Checkpoint } from '../io/checkpoint';
import { sha256Path } from '../io/provenance';
import { evaluate, readViolations } from '../eval/evaluate';
import type { ViolationRecord } from '../eval/conditions';
import { locate } from '../locate/run';
import { resolveOptions, type LocateOptions } from '../locate/options';
import { stitchCheckpoint } from '../stitch/stitch';
import { toCsv } from '../io/csv';
import { loadD3 } from '../report/d3';
import { kSweepCsv, kSweepData, kSweepSvg } from '../report/figures/ksweep';
import { outlineText, toPng } from '../report/render';
import type { BackendChoice } from '../model/backend';

import { SWEEP_METHODS } from './methods';

export { SWEEP_METHODS } from './methods';
export const K_SWEEP_COLUMNS = ['method', 'k', 'eval_lang', 'n', 'violations', 'violation_rate', 'ci_low', 'ci_high', 'condition_id'] as const;

export interface SweepOptions {
  base: string;
  attacked: string;
  out: string;
  methods: string[];
  ks: number[];
  /** the language whose mask is stitched (the attack's language) */
  lang: string;
  /** harmful prompts to evaluate (sil eval --data) */
  data: string;
  /** calibration data of sil locate (default: locate's own default) */
  calibration?: string;
  /** evaluation languages (default: every language of `data`) */
  langs?: string[];
  limit?: number;
  maxNewTokens?: number;
  batchSize?: number;
  backend?: BackendChoice;
  threads?: number;
  seed?: number;
  /** keep the stitched checkpoints */
  keep?: boolean;
  /** start over when the folder holds a sweep with other settings */
  force?: boolean;
  /** points (method × k), then per point the steps locate, stitch, eval */
  progress?: Progress;
  log?: (line: string) => void;
}

export interface SweepPoint {
  method: string;
  k: number;
  /** run now, or found from an earlier run */
  status: 'run' | 'resumed';
  rows: ViolationRecord[];
}

export interface SweepResult {
  points: SweepPoint[];
  kSweepCsv: string;
  figure: string[];
}

const pointName = (m: string, k: number) => `${m}-k${k}`;
const condition = (m: string, k: number) => `stitch=${m},k=${k}`;

/** The settings the points depend on, and their key. */
function settings(o: SweepOptions): Record<string, unknown> {
  const ck = (p: string) => {
    const c = Checkpoint.open(p);
    try {
      return c.contentSha256();
    } finally {
      c.close();
    }
  };
  return {
    base: { path: path.resolve(o.base), content: ck(o.base) },
    attacked: { path: path.resolve(o.attacked), content: ck(o.attacked) },
    lang: o.lang,
    data: { path: path.resolve(o.data), sha256: sha256Path(o.data) },
    calibration: o.calibration ? { path: path.resolve(o.calibration), sha256: sha256Path(o.calibration.replace(/^(multijail|polyrefuse):/, '')) } : null,
    langs: o.langs ?? null,
    limit: o.limit ?? null,
    max_new_tokens: o.maxNewTokens ?? 64,
    seed: o.seed ?? 0,
  };
}

/** Links (or copies) the gradient caches of `from` into `to`/cache, so locate finds them. */
function shareCaches(from: string, to: string): void {
  const src = path.join(from, 'cache');
  if (!fs.existsSync(src)) return;
  const dst = path.join(to, 'cache');
  fs.mkdirSync(dst, { recursive: true });
  for (const f of fs.readdirSync(src)) {
    const a = path.join(src, f);
    const b = path.join(dst, f);
    if (fs.existsSync(b) || !fs.statSync(a).isFile()) continue;
    try {
      fs.linkSync(a, b);
    } catch {
      fs.copyFileSync(a, b);
    }
  }
}

/** k_sweep.csv from every stitch=… condition of the sweep's eval rows. */
function kSweepTable(rows: readonly ViolationRecord[]): { csv: string; records: Array<{ method: string; k: number; eval_lang: string; violation_rate: number }> } {
  const out: Array<Array<string | number>> = [];
  const records: Array<{ method: string; k: number; eval_lang: string; violation_rate: number }> = [];
  for (const r of rows) {
    const m = /^stitch=([^,]+),k=([0-9.e+-]+)$/.exec(r.condition);
    if (!m) continue;
    const k = Number(m[2]);
    out.push([m[1], k, r.eval_lang, r.n, r.violations, r.violation_rate, r.ci_low, r.ci_high, r.condition_id]);
    records.push({ method: m[1], k, eval_lang: r.eval_lang, violation_rate: r.violation_rate });
  }
  return { csv: toCsv([...K_SWEEP_COLUMNS], out), records };
}

export async function sweep(o: SweepOptions): Promise<SweepResult> {
  const log = o.log ?? (() => {});
  const progress = o.progress ?? SILENT;
  for (const m of o.methods) if (!(SWEEP_METHODS as readonly string[]).includes(m)) throw new SilError('INVALID_ARGUMENT', `--methods: unknown method "${m}"; choose from ${SWEEP_METHODS.join(', ')}`);
  if (o.methods.length === 0 || new Set(o.methods).size !== o.methods.length) throw new SilError('INVALID_ARGUMENT', '--methods must list each method once');
  for (const k of o.ks) if (!(k > 0 && k <= 1)) throw new SilError('INVALID_ARGUMENT', `--ks: every k must be in (0, 1], found ${k}`);
  if (o.ks.length === 0 || new Set(o.ks).size !== o.ks.length) throw new SilError('INVALID_ARGUMENT', '--ks must list each k once');
  const ks = [...o.ks].sort((a, b) => a - b);
  // every locate point's options are checked before any work
  const locateOptions = (m: string, k: number): LocateOptions => ({
    base: o.base,
    attacked: o.attacked,
    out: path.join(o.out, 'sweep', m, `k-${k}`),
    langs: o.lang,
    data: o.calibration,
    score: m,
    k,
    benign: false,
    seed: o.seed ?? 0,
    backend: o.backend,
    threads: o.threads,
    json: true,
    force: true,
  });
  for (const m of o.methods) resolveOptions(locateOptions(m, ks[0]));

  const sweepDir = path.join(o.out, 'sweep');
  const stateFile = path.join(sweepDir, 'sweep.json');
  const s = settings(o);
  const key = createHash('sha256').update(JSON.stringify(s)).digest('hex');
  if (fs.existsSync(stateFile)) {
    const prev = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as { key?: string };
    if (prev.key !== key) {
      if (!o.force)
        throw new SilError('OUTPUT_EXISTS', `${sweepDir} holds a sweep with other checkpoints, data or settings; pass --force to start it over, or choose another --out`, { file: stateFile });
      log('the settings changed: starting the sweep over');
      fs.rmSync(path.join(sweepDir, 'eval'), { recursive: true, force: true });
      fs.rmSync(path.join(sweepDir, 'models'), { recursive: true, force: true });
    }
  }
  fs.mkdirSync(sweepDir, { recursive: true });
  writeFileAtomic(stateFile, JSON.stringify({ key, settings: s, methods: o.methods, ks }, null, 2) + '\n');

  const evalFile = path.join(sweepDir, 'eval', 'violations.csv');
  const evalLangs = (rows: readonly ViolationRecord[], m: string, k: number) => rows.filter((r) => r.condition === condition(m, k)).map((r) => r.eval_lang);
  const points: SweepPoint[] = [];
  const total = o.methods.length * ks.length;
  progress.start(total * 3, 'sweep (locate, stitch, eval per point)');
  for (const m of o.methods) {
    let first: string | null = null;
    for (const k of ks) {
      const existing = readViolations(evalFile);
      const done = evalLangs(existing, m, k);
      const wanted = o.langs;
      if (done.length > 0 && (!wanted || wanted.every((l) => done.includes(l)))) {
        points.push({ method: m, k, status: 'resumed', rows: existing.filter((r) => r.condition === condition(m, k)) });
        log(`${m} k=${k}: evaluated before, kept`);
        progress.tick(3);
        first ??= locateOptions(m, k).out;
        continue;
      }
      const lo = locateOptions(m, k);
      if (first) shareCaches(first, lo.out);
      first ??= lo.out;
      log(`${m} k=${k}: locate`);
      await locate(resolveOptions(lo), SILENT);
      progress.tick();
      const model = path.join(sweepDir, 'models', pointName(m, k));
      log(`${m} k=${k}: stitch`);
      await stitchCheckpoint({ base: o.base, attacked: o.attacked, mask: path.join(lo.out, 'masks', `${o.lang}.safetensors`), out: model, force: true });
      progress.tick();
      log(`${m} k=${k}: eval`);
      try {
        const r = await evaluate({
          model,
          prompts: o.data,
          out: sweepDir,
          langs: o.langs,
          name: pointName(m, k),
          ftLang: o.lang,
          condition: condition(m, k),
          replace: true,
          limit: o.limit,
          maxNewTokens: o.maxNewTokens,
          batchSize: o.batchSize,
          backend: o.backend,
        });
        points.push({ method: m, k, status: 'run', rows: readViolations(evalFile).filter((x) => x.condition === r.condition) });
      } finally {
        if (!o.keep) fs.rmSync(model, { recursive: true, force: true });
      }
      progress.tick();
      writeKSweep(o.out, readViolations(evalFile));
    }
  }
  progress.stop();
  if (!o.keep) fs.rmSync(path.join(sweepDir, 'models'), { recursive: true, force: true });
  const csv = writeKSweep(o.out, readViolations(evalFile));
  const figure = await writeKSweepFigure(o.out, readViolations(evalFile), o.langs);
  return { points, kSweepCsv: csv, figure };
}

/** eval/k_sweep.csv from the sweep's eval rows (written after every point, so a partial sweep has its file). */
function writeKSweep(out: string, rows: readonly ViolationRecord[]): string {
  const file = path.join(out, 'eval', 'k_sweep.csv');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, kSweepTable(rows).csv);
  return file;
}

/** eval/k-sweep.{svg,png,csv}: the figure `sil report` draws from k_sweep.csv. */
async function writeKSweepFigure(out: string, rows: readonly ViolationRecord[], langs?: string[]): Promise<string[]> {
  const d = kSweepData(kSweepTable(rows).records, langs);
  const svg = kSweepSvg(d, await loadD3());
  const base = path.join(out, 'eval', 'k-sweep');
  writeFileAtomic(`${base}.svg`, outlineText(svg));
  writeFileAtomic(`${base}.png`, toPng(svg, 2));
  writeFileAtomic(`${base}.csv`, kSweepCsv(d));
  return [`${base}.svg`, `${base}.png`, `${base}.csv`];
}
