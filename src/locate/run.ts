/**
 * `sil locate`: per-language safety masks for a checkpoint pair (Poppi et al. 2025; Wei et al. 2024).
 *
 *   1. check every input (checkpoints, options, calibration data, tokenization, --grads files)
 *      before anything is written;
 *   2. per language (and the benign baseline): gradient sums at θpre over the calibration examples,
 *      cached as `cache/<set>.grads.safetensors` (`cache/<set>.<fields>.grads.safetensors` for fields
 *      other than `grad`, one file per field set) under a hash of everything they depend on, so an
 *      interrupted run resumes with the languages already done and runs with different scores in
 *      one folder keep each other's caches;
 *   3. scores streamed from the checkpoints and the cached sums, exact top-k selection, mask files;
 *      ∩ / ∪ over languages, a seeded random baseline, overlap, layers, regions, manifest, summary —
 *      all built in a temporary folder and moved into `--out` only when everything succeeded.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SilError } from '../errors';
import { DEFAULT_PROBES_FILE, languagesOf } from '../data';
import type { CalibrationPair, CalibrationRecord, PromptItem } from '../data';
import { describeTensor, kindOrder } from '../families';
import { withAtomicDir } from '../io/atomic';
import { checkOutputPath, claimOutput, MARKER_FILE } from '../io/outpath';
import { keepOnInterrupt } from '../io/temp';
import { writeDeltaFolder } from '../delta/folder';
import { SILENT } from '../progress';
import { Checkpoint } from '../io/checkpoint';
import { sha256Path, tokenizerSha256 } from '../io/provenance';
import type { LayerRow } from '../mask/layers';
import { layersCsv } from '../io/layers-csv';
import { objectsToCsv } from '../io/csv';
import { rankRegions, type RegionRow, REGION_COLUMNS } from '../mask/regions';
import { type SelectedBackend, useBackend } from '../model/backend';
import type { Batch } from '../model/batch';
import { checkpointConfig, checkSequenceLength, type ModelConfig } from '../model/config';
import { allParamNames } from '../model/names';
import { checkSameTensors, type ScoredTensor, scoredTensors, totalOf } from '../score/pair';
import { nonFiniteError, scanNonFinite, totalNonFinite } from '../score/finite';
import { loadTokenizer } from '../tokenizer';
import type { Progress } from '../progress';
import { accumulateToFile } from './accumulate';
import { inputNormsToFile, readCachedInputNorms } from './activations';
import { calibrationPairs, type DataSpec, formatDataSpec, loadData, toBatches, tokenizePairs } from './calibration';
import { intersectionAndUnion, OVERLAP_COLUMNS, type OverlapRow, pairwiseOverlap } from './combine';
import { greedyGenerator } from './generate';
import { GradFile, gradCacheName } from './gradfile';
import { HistogramPool } from './histpool';
import { selectAndWrite } from './masks';
import { setDifferenceAndWrite } from './setdiff';
import type { LocateConfig } from './options';
import { fieldsFor, type ScoreInputs, scoreSource } from './scores';
import { type GradientPlan, type GradientSource, openGradientSource } from './source';
import { renderSummary } from './summary';
import { finishRunFolder, listFiles, openRunFolder, type RunFolderState } from './runfolder';
import { SIL_PACKAGE_NAME, SIL_VERSION } from '../version';
import type { LocateManifest, MaskReport, SetReport } from './manifest';

/** One calibration set: a language, or the benign baseline. */
interface CalibrationSet {
  name: string;
  examples: number;
  batches: Batch[];
  key: string;
  /** where the gradient sums are (the cache file, or a --grads file) */
  gradPath: string;
  fromGradsOption: boolean;
}

const CACHE_VERSION = 'sil-locate-cache/2';
/** in-scope parameters from which global selection runs its histogram passes on `--threads` workers */
const PARALLEL_SELECTION_MIN = 1 << 24;

function sha256OfSpec(d: DataSpec): string | null {
  return sha256Path(d.path);
}

function seconds(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/**
 * The model config, when the base has one that the runtime understands (needed for gradients); a
 * malformed config.json (INVALID_CONFIG) is refused whatever the score.
 */
function modelConfigOf(ck: Checkpoint, required: boolean): ModelConfig | null {
  if (!ck.config) {
    if (required) throw new SilError('INVALID_CONFIG', 'computing gradients needs the checkpoint config.json', { file: ck.location });
    return null;
  }
  try {
    return checkpointConfig(ck);
  } catch (e) {
    // data-free scores run on architectures and options the runtime does not implement, but never on a malformed config
    if (required || (e instanceof SilError && e.code === 'INVALID_CONFIG')) throw e;
    return null;
  }
}

function cacheKey(parts: Record<string, unknown>): string {
  return createHash('sha256')
    .update(JSON.stringify({ v: CACHE_VERSION, ...parts }))
    .digest('hex');
}

/** Benign prompts from `spec`, in the run's languages where it has them (else all of its languages). */
async function benignPairs(
  cfg: LocateConfig,
  spec: DataSpec,
  langs: readonly string[],
  generate: ReturnType<typeof greedyGenerator> | undefined,
): Promise<{ pairs: CalibrationPair[]; spec: DataSpec }> {
  let data: Array<CalibrationRecord | PromptItem> = spec.kind === 'jsonl' ? await loadData(spec) : [];
  let used = spec;
  let have = languagesOf(data.filter((x) => x.kind === 'benign'));
  if (have.length === 0 && cfg.benign && formatDataSpec(cfg.benign) === formatDataSpec(cfg.data)) {
    // the calibration data has no benign prompts: the default probe set supplies them
    used = { kind: 'jsonl', path: DEFAULT_PROBES_FILE };
    data = await loadData(used);
    have = languagesOf(data.filter((x) => x.kind === 'benign'));
  }
  if (have.length === 0) throw new SilError('INVALID_DATA', 'benign baseline: the source has no benign prompts', { file: formatDataSpec(spec) });
  const inRun = langs.filter((l) => have.includes(l));
  const mode = cfg.responses.mode === 'generate' ? cfg.responses : { mode: 'compliance' as const };
  const byLang = await calibrationPairs(data, {
    kind: 'benign',
    langs: inRun.length ? inRun : have,
    responses: mode,
    generate,
    system: cfg.system,
    maxExamples: cfg.maxExamples,
    source: formatDataSpec(used),
  });
  return { pairs: [...byLang.values()].flat(), spec: used };
}

/** Runs `sil locate` with resolved options; returns the manifest it wrote. */
export async function locate(cfg: LocateConfig, progress: Progress = SILENT, say: (note: string) => void = () => {}): Promise<LocateManifest> {
  const t0 = process.hrtime.bigint();
  const timings: Record<string, number> = {};
  const notes: string[] = [];
  const outPath = checkOutputPath({
    out: cfg.out,
    kind: 'dir',
    inputs: [cfg.base, cfg.attacked, cfg.grads, cfg.grads === null && cfg.data.path, cfg.benign?.path, cfg.responses.mode === 'generate' && cfg.responses.checkpoint],
  });
  let folder: RunFolderState | null = null;
  const release = claimOutput(outPath, 'locate', [path.join(outPath, 'cache')]);
  let base: Checkpoint;
  try {
    base = Checkpoint.open(cfg.base);
  } catch (e) {
    release();
    throw e;
  }
  let attacked: Checkpoint | null = null;
  const gradFiles: GradFile[] = [];
  let source: GradientSource | null = null;
  let pool: HistogramPool | null = null;
  const outExisted = fs.existsSync(cfg.out);
  try {
    attacked = Checkpoint.open(cfg.attacked);
    const att = attacked;
    checkSameTensors(base, att);
    if (base.architecture !== att.architecture) {
      throw new SilError('CHECKPOINT_MISMATCH', `architecture ${att.architecture} differs from ${base.architecture} in ${base.location}`, { file: att.location });
    }
    modelConfigOf(base, false); // a malformed config.json is refused before any work, whatever the score
    const tensors = scoredTensors(base, cfg.scope);
    const nInScope = totalOf(tensors);
    if (nInScope === 0) throw new SilError('INVALID_ARGUMENT', `--scope ${cfg.scope} covers no tensor of this checkpoint`, { file: base.location });
    const scored = tensors.filter((t) => t.part === 'score').map((t) => t.name);
    const fields = fieldsFor(cfg.score, cfg.reduce);
    const needsGrads = fields.length > 0;
    // wanda needs no gradients but a forward pass over the same tokenized calibration sets
    const needsForward = needsGrads || cfg.score === 'wanda';

    // ---- 1. inputs, all checked before anything is written --------------------------------------
    const tPrep = process.hrtime.bigint();
    // NaN/Inf: in θpre where gradients are taken at it or it is scored, in Δ where Δ is scored
    const thetaNames = needsForward && cfg.grads === null ? base.names() : cfg.score === 'snip' || cfg.score === 'wanda' ? scored : [];
    const deltaNames = cfg.score === 'sil' || cfg.score === 'weightdiff' ? scored : [];
    const nonfinite = scanNonFinite(base, att, thetaNames, deltaNames);
    const nonfiniteFound = totalNonFinite(nonfinite.thetaPre) + totalNonFinite(nonfinite.delta) > 0;
    if (nonfiniteFound) {
      const err = nonFiniteError(nonfinite, { base: base.location, attacked: att.location });
      if (!cfg.allowNonfinite) throw err!;
      notes.push(
        `--allow-nonfinite: ${totalNonFinite(nonfinite.thetaPre)} NaN/Inf element(s) of θpre and ${totalNonFinite(nonfinite.delta)} of Δ are scored 0 (manifest: nonfinite)${totalNonFinite(nonfinite.thetaPre) > 0 && needsForward ? '; gradients were taken at θpre as stored, so NaN spreads through them and those scores are 0 too' : ''}`,
      );
    }
    const sets: CalibrationSet[] = [];
    let langs: string[];
    let benignSpec: DataSpec | null = null;
    const gradsUsed: Array<{ path: string; sha256: string }> = [];
    if (cfg.grads !== null) {
      if (!needsGrads) throw new SilError('INVALID_ARGUMENT', `--grads supplies gradients, but --score ${cfg.score} uses none`);
      const pattern = cfg.grads;
      if (cfg.langs) langs = cfg.langs;
      else if (pattern.includes('{lang}')) throw new SilError('INVALID_ARGUMENT', '--grads with {lang} needs --langs');
      else {
        const f = GradFile.open(pattern);
        langs = [f.metadata.lang ?? path.basename(pattern).replace(/\.safetensors$/, '')];
        f.close();
      }
      const names = [...langs];
      if (cfg.benign && pattern.includes('{lang}') && fs.existsSync(pattern.replace('{lang}', 'benign'))) names.push('benign');
      else notes.push('benign baseline: not computed (gradients come from --grads; give a {lang} pattern with a benign file to include it)');
      for (const name of names) {
        const file = pattern.replace('{lang}', name);
        const g = GradFile.open(file);
        gradFiles.push(g);
        // snip over a plain gradient file uses |Σ∇| (exact for one example, or a gradient of one loss)
        const need = cfg.score === 'snip' && !scored.every((n) => g.has('absgrad', n)) ? ['grad' as const] : fields;
        g.validate(base, scored, need);
        gradsUsed.push({ path: path.resolve(file), sha256: sha256Path(file)! });
        sets.push({ name, examples: 0, batches: [], key: '', gradPath: file, fromGradsOption: true });
      }
    } else {
      const data = await loadData(cfg.data, cfg.langs ?? undefined);
      const present = languagesOf(data.filter((x) => x.kind !== 'benign'));
      if (!needsForward) {
        langs = cfg.langs ?? present;
        const missing = langs.filter((l) => !present.includes(l));
        if (missing.length)
          throw new SilError('INVALID_DATA', `no harmful prompts in language(s) ${missing.join(', ')}; the data has ${present.join(', ') || 'none'}`, { file: formatDataSpec(cfg.data) });
        if (langs.length === 0) throw new SilError('INVALID_DATA', 'empty calibration set: the data has no harmful prompts', { file: formatDataSpec(cfg.data) });
        if (cfg.benign) notes.push(`benign baseline: --score ${cfg.score} uses no calibration data, so it equals the language masks`);
      } else {
        const mcfg = modelConfigOf(base, true)!;
        const tok = loadTokenizer(base.dir);
        const generate = cfg.responses.mode === 'generate' ? greedyGenerator(tok, { maxNewTokens: cfg.maxNewTokens, system: cfg.system }) : undefined;
        if (generate) await useBackend(cfg.backend, { blas: cfg.blas });
        const pairs = await calibrationPairs(data, {
          kind: 'harmful',
          langs: cfg.langs ?? undefined,
          responses: cfg.responses,
          generate,
          system: cfg.system,
          maxExamples: cfg.maxExamples,
          source: formatDataSpec(cfg.data),
        });
        langs = [...pairs.keys()];
        const named: Array<[string, CalibrationPair[]]> = [...pairs];
        if (cfg.benign) {
          const b = await benignPairs(cfg, cfg.benign, langs, generate);
          benignSpec = b.spec;
          named.push(['benign', b.pairs]);
        }
        const common = {
          base: base.contentSha256(),
          attacked: fields.includes('silabs') ? att.contentSha256() : null,
          fields,
          backend: cfg.backend,
          threads: cfg.threads,
          batchSize: cfg.batchSize,
          ...(cfg.score === 'wanda' ? { activations: 'linear-inputs/1' } : {}),
        };
        const context = mcfg.maxPositionEmbeddings ?? undefined;
        if (cfg.maxLength !== undefined && context !== undefined && cfg.maxLength > context) {
          throw new SilError('INVALID_ARGUMENT', `--max-length ${cfg.maxLength} exceeds the model's context (max_position_embeddings ${context})`, { file: path.join(base.dir, 'config.json') });
        }
        for (const [name, list] of named) {
          const examples = tokenizePairs(tok, list, cfg.maxLength, context);
          const cut = examples.filter((e) => e.cut);
          if (cut.length > 0) {
            const msg = `${name}: ${cut.length} example(s) longer than the model's context (max_position_embeddings ${context}) were cut to it (${cut.reduce((a, e) => a + e.cut!, 0)} tokens in all; give --max-length to reject long prompts instead)`;
            notes.push(msg);
            if (!cfg.json) process.stderr.write(`sil: warning: ${msg}\n`);
          }
          if (examples.length === 0) throw new SilError('INVALID_DATA', `empty calibration set for ${name}`, { file: formatDataSpec(cfg.data) });
          for (const e of examples) checkSequenceLength(mcfg, e.input_ids.length);
          const batches = toBatches(examples, cfg.batchSize, tok.padId());
          const key = cacheKey({ ...common, batches });
          sets.push({ name, examples: examples.length, batches, key, gradPath: path.join(cfg.out, 'cache', gradCacheName(name, fields)), fromGradsOption: false });
        }
      }
    }
    if (cfg.setdiff && !sets.some((s) => s.name === 'benign') && needsForward) {
      throw new SilError('INVALID_ARGUMENT', '--setdiff needs the benign set as utility data; with --grads, give a {lang} pattern that has a benign file');
    }
    timings.prepare_s = seconds(tPrep);
    // every input is checked: decide about the folder (resume, or replace only with --force)
    const key = runKey(cfg, base, att, sets);
    folder = openRunFolder(cfg.out, key, cfg.force);
    if (folder.previous && Array.isArray(folder.previous.files) && folder.previous.files.length > 0) keepOnInterrupt(`the earlier results in ${cfg.out}, unchanged`);
    if (needsForward && cfg.grads === null) {
      const cacheDir = path.join(cfg.out, 'cache');
      keepOnInterrupt(() => {
        let n = 0;
        try {
          n = fs.readdirSync(cacheDir).filter((f) => f.endsWith('.safetensors') && !f.startsWith('.tmp-')).length;
        } catch {
          n = 0;
        }
        return n ? `${n} finished ${cfg.score === 'wanda' ? 'activation' : 'gradient'} cache file(s) in ${cacheDir} (the same command resumes from them)` : null;
      });
    }

    // ---- 2. gradient sums per set (cached) --------------------------------------------------
    const calibration: Record<string, SetReport> = {};
    let plan: GradientPlan | null = null;
    const bySet = new Map<string, GradFile>();
    const normsBySet = new Map<string, Map<string, Float32Array>>();
    let forwardBackend: SelectedBackend | null = null;
    for (const s of sets) {
      const ts = process.hrtime.bigint();
      if (cfg.score === 'wanda') {
        const file = path.join(cfg.out, 'cache', `${s.name}.inputs.safetensors`);
        let got = readCachedInputNorms(file, s.key);
        let status: 'computed' | 'cached' = 'cached';
        if (!got) {
          if (!forwardBackend) forwardBackend = await useBackend(cfg.backend, { blas: cfg.blas });
          got = await inputNormsToFile(modelConfigOf(base, true)!, base, s.batches, file, { key: s.key, set: s.name, label: `activations ${s.name}` }, progress);
          status = 'computed';
        }
        normsBySet.set(s.name, got.norms);
        calibration[s.name] = { examples: got.examples, tokens: got.tokens, mean_loss: null, gradients: 'none', activations: status, seconds: seconds(ts) };
        timings[`activations_${s.name}_s`] = seconds(ts);
        continue;
      }
      if (s.fromGradsOption) {
        bySet.set(s.name, gradFiles[sets.indexOf(s)]);
        calibration[s.name] = { examples: null, tokens: null, mean_loss: null, gradients: 'file', seconds: 0 };
        continue;
      }
      let status: SetReport['gradients'] = 'cached';
      let summed: SetReport['sums'];
      let g = openCached(s.gradPath, s.key);
      if (!g) {
        if (!source) {
          const mcfg = modelConfigOf(base, true)!;
          const opened = await openGradientSource({
            modelDir: cfg.base,
            checkpoint: base,
            config: mcfg,
            backend: cfg.backend,
            blas: cfg.blas,
            threads: cfg.threads,
            perExample: fields.some((f) => f !== 'grad'),
            stream: cfg.stream,
            maxSeqLen: longestSequence(sets),
          });
          source = opened.source;
          plan = opened.plan;
        }
        fs.mkdirSync(path.dirname(s.gradPath), { recursive: true });
        const params = new Set(allParamNames(modelConfigOf(base, true)!));
        const names = base.names().filter((n) => params.has(n));
        const acc = await accumulateToFile(source, s.batches, fields, names, base, att, s.gradPath, { key: s.key, set: s.name, label: `gradients ${s.name}` }, progress);
        summed = acc.summedBySource ? 'backend' : 'file';
        status = 'computed';
        g = openCached(s.gradPath, s.key)!;
      }
      gradFiles.push(g);
      bySet.set(s.name, g);
      const meta = g.metadata;
      const tokens = Number(meta.tokens);
      calibration[s.name] = {
        examples: Number(meta.examples),
        tokens,
        mean_loss: tokens > 0 ? Number(meta.loss_sum) / tokens : null,
        gradients: status,
        ...(summed ? { sums: summed } : {}),
        seconds: seconds(ts),
      };
      timings[`gradients_${s.name}_s`] = seconds(ts);
    }
    const backendInfo = forwardBackend
      ? {
          name: forwardBackend.name,
          note: forwardBackend.note,
          matmul: forwardBackend.matmul,
          matmul_note: forwardBackend.matmulNote,
          source: 'forward',
          workers: 1,
          plan: 'one forward pass at θpre, one decoder layer at a time (layer inputs for wanda)',
        }
      : source
        ? (({ backend: b, kind, workers }) => ({ name: b.name, note: b.note, matmul: b.matmul, matmul_note: b.matmulNote, source: kind, workers, plan: plan!.why }))(source as GradientSource)
        : null;
    if (source) {
      await (source as GradientSource).close();
      source = null;
    }
    if (!needsForward) for (const l of langs) calibration[l] = { examples: null, tokens: null, mean_loss: null, gradients: 'none', seconds: 0 };

    // ---- 3. masks and tables, built atomically ---------------------------------------------------
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
    if (cfg.per === 'global' && !cfg.setdiff && cfg.threads > 1 && nInScope >= PARALLEL_SELECTION_MIN) pool = await HistogramPool.start(cfg.threads);
    let globalSir: number | null = null;
    let written: string[] = [];
    const manifest = await withAtomicDir(cfg.out, async (tmp) => {
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
      globalSir = inter.globalSir;
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
      const tHash = process.hrtime.bigint();
      const baseSha = base.dataSha256();
      const attSha = att.dataSha256();
      timings.hash_s = seconds(tHash);
      timings.total_s = seconds(t0);
      const m: LocateManifest = {
        command: 'locate',
        command_line: cfg.commandLine ?? null,
        version: SIL_VERSION,
        package: { name: SIL_PACKAGE_NAME, version: SIL_VERSION, node: process.version },
        created: new Date().toISOString(),
        inputs: {
          base: { path: path.resolve(cfg.base), header_sha256: base.headerSha256(), data_sha256: baseSha },
          attacked: { path: path.resolve(cfg.attacked), header_sha256: att.headerSha256(), data_sha256: attSha },
          tokenizer: tokenizerSha256(base.dir),
          data: cfg.grads === null ? { source: formatDataSpec(cfg.data), sha256: sha256OfSpec(cfg.data) } : null,
          benign: benignSpec ? { source: formatDataSpec(benignSpec), sha256: sha256OfSpec(benignSpec) } : null,
          grads: cfg.grads === null ? null : gradsUsed,
        },
        options: {
          langs: cfg.langs,
          data: formatDataSpec(cfg.data),
          responses: cfg.responses.mode === 'generate' ? `generate:${cfg.responses.checkpoint}` : cfg.responses.mode,
          system: cfg.system ?? null,
          score: cfg.score,
          reduce: cfg.reduce,
          scope: cfg.scope,
          k: cfg.k,
          per: cfg.per,
          benign: cfg.benign ? formatDataSpec(cfg.benign) : false,
          grads: cfg.grads,
          seed: cfg.seed,
          backend: cfg.backend,
          blas: cfg.blas,
          threads: cfg.threads,
          stream: cfg.stream,
          batch_size: cfg.batchSize,
          max_examples: cfg.maxExamples ?? null,
          max_length: cfg.maxLength ?? null,
          max_new_tokens: cfg.maxNewTokens,
          regions: cfg.regions,
          bitpack: cfg.bitpack,
          setdiff: cfg.setdiff,
          allow_nonfinite: cfg.allowNonfinite,
          defaults: cfg.defaulted,
        },
        backend: backendInfo,
        seed: cfg.seed,
        timings,
        languages: langs,
        k: cfg.setdiff ? cfg.setdiff.q : cfg.k,
        n_params: base.numel(),
        n_in_scope: nInScope,
        architecture: base.architecture,
        calibration,
        masks,
        global_sir: globalSir,
        expected_random_sir: cfg.setdiff ? cfg.setdiff.q : cfg.k,
        nonfinite: nonfiniteFound ? { allowed: true, theta_pre: nonfinite.thetaPre, delta: nonfinite.delta } : null,
        notes,
      };
      fs.writeFileSync(path.join(tmp, 'manifest.json'), JSON.stringify(m, null, 2) + '\n');
      fs.writeFileSync(path.join(tmp, 'summary.md'), renderSummary(m, overlap, regionRows, layerRows));
      written = listFiles(tmp);
      return m;
    });
    for (const n of finishRunFolder(cfg.out, folder, key, written)) {
      notes.push(n);
      say(n);
    }
    return manifest;
  } catch (e) {
    if (!outExisted && fs.existsSync(cfg.out) && isEmptyTree(cfg.out)) fs.rmSync(cfg.out, { recursive: true, force: true });
    throw e;
  } finally {
    if (pool) await (pool as HistogramPool).close();
    if (source) await (source as GradientSource).close();
    for (const g of gradFiles) g.close();
    base.close();
    attacked?.close();
    release();
  }
}

/** The longest (padded) sequence of any batch of the sets that compute gradients. */
function longestSequence(sets: readonly CalibrationSet[]): number {
  let t = 0;
  for (const s of sets) for (const b of s.batches) t = Math.max(t, b.input_ids[0]?.length ?? 0);
  return t;
}

/** The cache file when it exists and was computed from the same inputs (its metadata key), else null. */
function openCached(file: string, key: string): GradFile | null {
  if (!fs.existsSync(file)) return null;
  let g: GradFile;
  try {
    g = GradFile.open(file);
  } catch {
    return null; // unreadable (e.g. from an older format): recompute
  }
  if (g.metadata.key === key) return g;
  g.close();
  return null;
}

/** Nothing but empty folders (and the run folder's marker): what a failed first run leaves. */
function isEmptyTree(dir: string, top = true): boolean {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (top && e.name === MARKER_FILE) continue;
    if (!e.isDirectory() || !isEmptyTree(path.join(dir, e.name), false)) return false;
  }
  return true;
}

/** A content-independent identity of a checkpoint's files: resolved paths, sizes and times. */
function checkpointIdentity(ck: Checkpoint): unknown {
  return {
    header: ck.headerSha256(),
    files: ck.files.map((f) => {
      const st = fs.statSync(f.path);
      return [fs.realpathSync(f.path), st.size, st.mtimeMs];
    }),
  };
}

/**
 * The key of a run's results: every option that shapes them, the checkpoints, the data files,
 * the --grads files and the calibration sets' cache keys. Two runs with one key write the same masks.
 */
function runKey(cfg: LocateConfig, base: Checkpoint, attacked: Checkpoint, sets: CalibrationSet[]): string {
  const { json: _json, force: _force, out: _out, commandLine: _cl, ...options } = cfg;
  const fileId = (p: string | undefined | null) => {
    try {
      const st = fs.statSync(p!);
      return st.isFile() ? [fs.realpathSync(p!), st.size, st.mtimeMs] : [fs.realpathSync(p!)];
    } catch {
      return p ?? null;
    }
  };
  return cacheKey({
    run: 'locate-run/1',
    options,
    base: checkpointIdentity(base),
    attacked: checkpointIdentity(attacked),
    data: fileId(cfg.data.path),
    benign: cfg.benign ? fileId(cfg.benign.path) : null,
    sets: sets.map((s) => [s.name, s.key, s.fromGradsOption ? fileId(s.gradPath) : null]),
  });
}
