/**
 * The third step of `sil locate`: the masks (per language, ∩ and ∪, the benign baseline, a seeded
 * random one; or Wei et al.'s set differences), the Δ folder and the tables (layers.csv,
 * regions.csv, overlap.csv), written into the run's temporary folder.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeDeltaFolder } from '../delta/folder';
import { describeTensor, kindOrder } from '../families';
import type { Checkpoint } from '../io/checkpoint';
import { objectsToCsv } from '../io/csv';
import { layersCsv } from '../io/layers-csv';
import type { LayerRow } from '../mask/layers';
import type { MaskEncoding } from '../mask/maskfile';
import { rankRegions, type RegionRow, REGION_COLUMNS } from '../mask/regions';
import { SILENT, type Progress } from '../progress';
import type { ScoredTensor } from '../score/pair';
import { SIL_VERSION } from '../version';
import { intersectionAndUnion, OVERLAP_COLUMNS, type OverlapRow, pairwiseOverlap } from './combine';
import type { SetGradients } from './gradients';
import { HistogramPool } from './histpool';
import type { MaskReport } from './manifest';
import { type MaskRun, selectAndWrite } from './masks';
import type { LocateConfig } from './options';
import { modelConfigOf, type Prepared } from './prepare';
import { type ScoreInputs, scoreSource } from './scores';
import { setDifferenceAndWrite } from './setdiff';

/** in-scope parameters from which global selection runs its histogram passes on `--threads` workers */
const PARALLEL_SELECTION_MIN = 1 << 24;

/** What the masks and tables came to, for the manifest and the summary. */
export interface Written {
  masks: Record<string, MaskReport>;
  globalSir: number | null;
  overlap: OverlapRow[];
  layerRows: LayerRow[];
  regionRows: RegionRow[];
}

function seconds(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** The metadata of mask `name` selected by `score`. */
function maskMetadata(cfg: LocateConfig, name: string, score: string): Record<string, string> {
  return {
    mask: name,
    score,
    ...(score === 'sil' ? { reduce: cfg.reduce } : {}),
    ...(score === 'random' ? { seed: String(cfg.seed) } : {}),
    scope: cfg.scope,
    per: cfg.per,
    k: String(cfg.k),
    sil_version: SIL_VERSION,
    ...(cfg.setdiff ? { setdiff: 'benign', q: String(cfg.setdiff.q), p: String(cfg.setdiff.p) } : {}),
  };
}

/** What the manifest should say about the selection. */
function selectionNotes(cfg: LocateConfig, tensors: readonly ScoredTensor[], grads: SetGradients): string[] {
  const notes: string[] = [];
  if (cfg.score === 'wanda') {
    const noInput = tensors.filter((t) => t.part === 'score' && ![...grads.normsBySet.values()][0]?.has(t.name)).length;
    if (noInput > 0) notes.push(`wanda: ${noInput} in-scope tensor(s) are not the weight of a linear layer (norms, an untied embedding) and score 0`);
  }
  if (cfg.setdiff) {
    const { q, p } = cfg.setdiff;
    notes.push(
      `set difference (Wei et al.): per weight matrix, top-${q} of the ${cfg.score} score on each language minus top-${p} of the same score on the benign set; the benign mask is the per-matrix top-${p} of the benign score, the random mask a per-matrix top-${q}; --k is not used`,
    );
  }
  return notes;
}

/** Selects masks into `dir` (masks/), recording each in `reports`. */
class MaskSelection {
  readonly reports: Record<string, MaskReport> = {};
  private readonly headDim: number;
  private readonly encoding: MaskEncoding;

  constructor(
    private readonly dir: string,
    private readonly cfg: LocateConfig,
    private readonly base: Checkpoint,
    private readonly att: Checkpoint,
    private readonly tensors: ScoredTensor[],
    private readonly grads: SetGradients,
    private readonly pool: HistogramPool | null,
    private readonly progress: Progress,
  ) {
    this.headDim = modelConfigOf(base, false)?.headDim ?? 1;
    this.encoding = cfg.bitpack ? 'bitpack' : 'u8';
  }

  file(name: string): string {
    return path.join(this.dir, `${name}.safetensors`);
  }

  /** The score's inputs over calibration set `setName` (its gradient sums or input norms). */
  inputsFor(setName: string): ScoreInputs {
    const { cfg } = this;
    return {
      score: cfg.score,
      reduce: cfg.reduce,
      base: this.base,
      attacked: this.att,
      grads: this.grads.bySet.get(setName),
      inputNorms: this.grads.normsBySet.get(setName),
      seed: cfg.seed,
      allowNonfinite: cfg.allowNonfinite,
    };
  }

  /** Top-k mask `name` of the scores `inp` (per --per; per tensor with --setdiff's fractions). */
  async topK(name: string, inp: ScoreInputs, withRegions: boolean): Promise<MaskRun> {
    const { cfg, pool } = this;
    const frac = cfg.setdiff ? (name === 'benign' ? cfg.setdiff.p : cfg.setdiff.q) : cfg.k;
    // wanda's input norms live in this process: its passes stay on this thread
    const hist =
      pool && inp.score !== 'wanda'
        ? pool.provider(
            { score: inp.score, reduce: inp.reduce, base: cfg.base, attacked: cfg.attacked, grads: inp.grads?.path ?? null, seed: inp.seed, allowNonfinite: cfg.allowNonfinite },
            this.tensors,
          )
        : undefined;
    const r = await selectAndWrite({
      base: this.base,
      source: scoreSource(inp, this.tensors),
      frac,
      per: cfg.setdiff ? 'tensor' : cfg.per,
      file: this.file(name),
      encoding: this.encoding,
      metadata: maskMetadata(cfg, name, inp.score),
      headDim: this.headDim,
      regions: withRegions,
      hist,
      progress: this.progress,
      label: name,
    });
    this.reports[name] = { file: `masks/${name}.safetensors`, selected: r.selected, n: r.selection.n, passes: r.selection.passes, threshold: r.selection.threshold?.value ?? null };
    return r;
  }

  /** Wei et al.'s set difference for language `name`: its top-q minus the benign set's top-p, per weight matrix. */
  setDifference(name: string): MaskRun {
    const { cfg } = this;
    const sd = cfg.setdiff!;
    const r = setDifferenceAndWrite({
      base: this.base,
      tensors: this.tensors,
      safety: this.inputsFor(name),
      utility: this.inputsFor('benign'),
      q: sd.q,
      p: sd.p,
      file: this.file(name),
      encoding: this.encoding,
      metadata: maskMetadata(cfg, name, cfg.score),
      headDim: this.headDim,
      regions: true,
    });
    this.reports[name] = { file: `masks/${name}.safetensors`, selected: r.selected, n: r.selection.n, passes: r.selection.passes, threshold: null };
    return r;
  }

  /** ∩ and ∪ of the language masks; returns the global SIR. */
  combine(langs: readonly string[], nInScope: number): number | null {
    const inter = intersectionAndUnion(
      langs.map((l) => this.file(l)),
      this.file('intersection'),
      this.file('union'),
      this.encoding,
      maskMetadata(this.cfg, '', this.cfg.score),
    );
    this.reports.intersection = { file: 'masks/intersection.safetensors', selected: inter.intersection, n: nInScope, passes: 0, threshold: null };
    this.reports.union = { file: 'masks/union.safetensors', selected: inter.union, n: nInScope, passes: 0, threshold: null };
    return inter.globalSir;
  }
}

/**
 * Selects and writes every mask, the Δ folder and the tables into `tmp`. `notes` gets what the
 * manifest should say about the selection; `timings` its seconds.
 */
export async function writeMasksAndTables(
  tmp: string,
  cfg: LocateConfig,
  base: Checkpoint,
  att: Checkpoint,
  prep: Prepared,
  grads: SetGradients,
  timings: Record<string, number>,
  notes: string[],
  progress: Progress,
): Promise<Written> {
  const { tensors, nInScope, langs, needsForward } = prep;
  notes.push(...selectionNotes(cfg, tensors, grads));
  const tSelect = process.hrtime.bigint();
  // the histogram passes of global selections on worker threads, for streams worth it
  const pool = cfg.per === 'global' && !cfg.setdiff && cfg.threads > 1 && nInScope >= PARALLEL_SELECTION_MIN ? await HistogramPool.start(cfg.threads) : null;
  try {
    const maskDir = path.join(tmp, 'masks');
    fs.mkdirSync(maskDir);
    const sel = new MaskSelection(maskDir, cfg, base, att, tensors, grads, pool, progress);
    const layerRows: LayerRow[] = [];
    const regionRows: RegionRow[] = [];
    const kinds = kindOrder(
      base.architecture,
      tensors.map((t) => describeTensor(base.architecture, t.name).kind),
    );
    for (const lang of langs) {
      const r = cfg.setdiff ? sel.setDifference(lang) : await sel.topK(lang, sel.inputsFor(lang), true);
      layerRows.push(...r.layers.rows(lang, kinds));
      regionRows.push(...rankRegions(lang, r.regions, cfg.regions));
    }
    const globalSir = sel.combine(langs, nInScope);
    const named = [...langs, 'intersection'];
    if (cfg.benign && (grads.bySet.has('benign') || grads.normsBySet.has('benign') || !needsForward)) {
      await sel.topK('benign', sel.inputsFor('benign'), false);
      named.push('benign');
    }
    await sel.topK('random', { ...sel.inputsFor(''), score: 'random' }, false);
    named.push('random');
    const overlap: OverlapRow[] = pairwiseOverlap(named.map((name) => ({ name, file: sel.file(name) })));
    timings.select_s = seconds(tSelect);
    const tDelta = process.hrtime.bigint();
    await writeDeltaFolder(base, att, path.join(tmp, 'delta'), {
      threads: cfg.threads,
      kernel: 'simd',
      saveAbsDelta: false,
      maxShardSize: '5GB',
      progress: SILENT,
      paths: { base: cfg.base, attacked: cfg.attacked },
      t0: tDelta,
    });
    timings.delta_s = seconds(tDelta);
    fs.writeFileSync(path.join(tmp, 'layers.csv'), layersCsv(layerRows));
    fs.writeFileSync(path.join(tmp, 'regions.csv'), objectsToCsv<RegionRow>(REGION_COLUMNS, regionRows));
    fs.writeFileSync(path.join(tmp, 'overlap.csv'), objectsToCsv<OverlapRow>(OVERLAP_COLUMNS, overlap));
    return { masks: sel.reports, globalSir, overlap, layerRows, regionRows };
  } finally {
    if (pool) await pool.close();
  }
}
