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
import { rankRegions, type RegionRow, REGION_COLUMNS } from '../mask/regions';
import { SILENT, type Progress } from '../progress';
import type { ScoredTensor } from '../score/pair';
import { SIL_VERSION } from '../version';
import { intersectionAndUnion, OVERLAP_COLUMNS, type OverlapRow, pairwiseOverlap } from './combine';
import type { SetGradients } from './gradients';
import { HistogramPool } from './histpool';
import type { MaskReport } from './manifest';
import { selectAndWrite } from './masks';
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
  const { bySet, normsBySet } = grads;
  const mcfg = modelConfigOf(base, false);
  const headDim = mcfg?.headDim ?? 1;
  const encoding = cfg.bitpack ? 'bitpack' : 'u8';
  const maskMeta = (name: string, score: string): Record<string, string> => ({
    mask: name,
    score,
    ...(score === 'sil' ? { reduce: cfg.reduce } : {}),
    ...(score === 'random' ? { seed: String(cfg.seed) } : {}),
    scope: cfg.scope,
    per: cfg.per,
    k: String(cfg.k),
    sil_version: SIL_VERSION,
    ...(cfg.setdiff ? { setdiff: 'benign', q: String(cfg.setdiff.q), p: String(cfg.setdiff.p) } : {}),
  });
  if (cfg.score === 'wanda') {
    const noInput = tensors.filter((t) => t.part === 'score' && ![...normsBySet.values()][0]?.has(t.name)).length;
    if (noInput > 0) notes.push(`wanda: ${noInput} in-scope tensor(s) are not the weight of a linear layer (norms, an untied embedding) and score 0`);
  }
  if (cfg.setdiff) {
    const { q, p } = cfg.setdiff;
    notes.push(
      `set difference (Wei et al.): per weight matrix, top-${q} of the ${cfg.score} score on each language minus top-${p} of the same score on the benign set; the benign mask is the per-matrix top-${p} of the benign score, the random mask a per-matrix top-${q}; --k is not used`,
    );
  }
  const masks: Record<string, MaskReport> = {};
  const tSelect = process.hrtime.bigint();
  // the histogram passes of global selections on worker threads, for streams worth it
  const pool = cfg.per === 'global' && !cfg.setdiff && cfg.threads > 1 && nInScope >= PARALLEL_SELECTION_MIN ? await HistogramPool.start(cfg.threads) : null;
  try {
    const maskDir = path.join(tmp, 'masks');
    fs.mkdirSync(maskDir);
    const layerRows: LayerRow[] = [];
    const regionRows: RegionRow[] = [];
    const kinds = kindOrder(
      base.architecture,
      tensors.map((t) => describeTensor(base.architecture, t.name).kind),
    );
    const run = async (name: string, inp: ScoreInputs, withRegions: boolean, list: ScoredTensor[]) => {
      const file = path.join(maskDir, `${name}.safetensors`);
      const frac = cfg.setdiff ? (name === 'benign' ? cfg.setdiff.p : cfg.setdiff.q) : cfg.k;
      // wanda's input norms live in this process: its passes stay on this thread
      const hist =
        pool && inp.score !== 'wanda'
          ? pool.provider({ score: inp.score, reduce: inp.reduce, base: cfg.base, attacked: cfg.attacked, grads: inp.grads?.path ?? null, seed: inp.seed, allowNonfinite: cfg.allowNonfinite }, list)
          : undefined;
      const r = await selectAndWrite({
        base,
        source: scoreSource(inp, list),
        frac,
        per: cfg.setdiff ? 'tensor' : cfg.per,
        file,
        encoding,
        metadata: maskMeta(name, inp.score),
        headDim,
        regions: withRegions,
        hist,
        progress,
        label: name,
      });
      masks[name] = { file: `masks/${name}.safetensors`, selected: r.selected, n: r.selection.n, passes: r.selection.passes, threshold: r.selection.threshold?.value ?? null };
      return r;
    };
    const inputsFor = (setName: string): ScoreInputs => ({
      score: cfg.score,
      reduce: cfg.reduce,
      base,
      attacked: att,
      grads: bySet.get(setName),
      inputNorms: normsBySet.get(setName),
      seed: cfg.seed,
      allowNonfinite: cfg.allowNonfinite,
    });
    const sd = cfg.setdiff;
    const setDifference = (name: string) => {
      const file = path.join(maskDir, `${name}.safetensors`);
      const r = setDifferenceAndWrite({
        base,
        tensors,
        safety: inputsFor(name),
        utility: inputsFor('benign'),
        q: sd!.q,
        p: sd!.p,
        file,
        encoding,
        metadata: maskMeta(name, cfg.score),
        headDim,
        regions: true,
      });
      masks[name] = { file: `masks/${name}.safetensors`, selected: r.selected, n: r.selection.n, passes: r.selection.passes, threshold: null };
      return r;
    };
    for (const lang of langs) {
      const r = sd ? setDifference(lang) : await run(lang, inputsFor(lang), true, tensors);
      layerRows.push(...r.layers.rows(lang, kinds));
      regionRows.push(...rankRegions(lang, r.regions, cfg.regions));
    }
    const named: Array<{ name: string; file: string }> = langs.map((l) => ({ name: l, file: path.join(maskDir, `${l}.safetensors`) }));
    const inter = intersectionAndUnion(
      named.map((m) => m.file),
      path.join(maskDir, 'intersection.safetensors'),
      path.join(maskDir, 'union.safetensors'),
      encoding,
      maskMeta('', cfg.score),
    );
    masks.intersection = { file: 'masks/intersection.safetensors', selected: inter.intersection, n: nInScope, passes: 0, threshold: null };
    masks.union = { file: 'masks/union.safetensors', selected: inter.union, n: nInScope, passes: 0, threshold: null };
    named.push({ name: 'intersection', file: path.join(maskDir, 'intersection.safetensors') });
    if (cfg.benign && (bySet.has('benign') || normsBySet.has('benign') || !needsForward)) {
      await run('benign', inputsFor('benign'), false, tensors);
      named.push({ name: 'benign', file: path.join(maskDir, 'benign.safetensors') });
    }
    await run('random', { ...inputsFor(''), score: 'random' }, false, tensors);
    named.push({ name: 'random', file: path.join(maskDir, 'random.safetensors') });
    const overlap: OverlapRow[] = pairwiseOverlap(named);
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
    return { masks, globalSir: inter.globalSir, overlap, layerRows, regionRows };
  } finally {
    if (pool) await pool.close();
  }
}
