/**
 * The first step of `sil locate`: every input checked before anything is written, and the
 * calibration sets made (per language, and the benign baseline), each with the cache key of its
 * gradient sums (a hash of everything they depend on) or the --grads file it comes from.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SilError } from '../errors';
import { DEFAULT_PROBES_FILE, languagesOf } from '../data';
import type { CalibrationPair, CalibrationRecord, PromptItem } from '../data';
import type { Checkpoint } from '../io/checkpoint';
import { sha256Path } from '../io/provenance';
import { useBackend } from '../model/backend';
import type { Batch } from '../model/batch';
import { checkpointConfig, checkSequenceLength, type ModelConfig } from '../model/config';
import { nonFiniteError, type NonFiniteCounts, scanNonFinite, totalNonFinite } from '../score/finite';
import { checkSameTensors, type ScoredTensor, scoredTensors, totalOf } from '../score/pair';
import { loadTokenizer } from '../tokenizer';
import { calibrationPairs, type DataSpec, formatDataSpec, loadData, toBatches, tokenizePairs } from './calibration';
import { greedyGenerator } from './generate';
import { GradFile, type GradField, gradCacheName } from './gradfile';
import type { LocateConfig } from './options';
import { fieldsFor } from './scores';

/** One calibration set: a language, or the benign baseline. */
export interface CalibrationSet {
  name: string;
  examples: number;
  batches: Batch[];
  key: string;
  /** where the gradient sums are (the cache file, or a --grads file) */
  gradPath: string;
  /** the --grads file, open (null for computed sets) */
  gradFile: GradFile | null;
}

/** What the checked inputs decide for the rest of the run. */
export interface Prepared {
  tensors: ScoredTensor[];
  /** in-scope parameters */
  nInScope: number;
  /** the fields of gradient sums the score needs (none: no gradients) */
  fields: GradField[];
  needsGrads: boolean;
  /** gradients or wanda's forward pass over the calibration sets */
  needsForward: boolean;
  nonfinite: NonFiniteCounts;
  nonfiniteFound: boolean;
  sets: CalibrationSet[];
  langs: string[];
  benignSpec: DataSpec | null;
  /** the --grads files used, with their hashes */
  gradsUsed: Array<{ path: string; sha256: string }>;
}

const CACHE_VERSION = 'sil-locate-cache/2';

/**
 * The model config, when the base has one that the runtime understands (needed for gradients); a
 * malformed config.json (INVALID_CONFIG) is refused whatever the score.
 */
export function modelConfigOf(ck: Checkpoint, required: boolean): ModelConfig | null {
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

export function cacheKey(parts: Record<string, unknown>): string {
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

/**
 * Checks every input of the run (the checkpoint pair, non-finite values, the data or --grads files,
 * tokenization and lengths) and makes the calibration sets. --grads files are opened into `opened`
 * (the caller closes them, whatever happens); `notes` gets what the manifest should say.
 */
export async function prepare(cfg: LocateConfig, base: Checkpoint, att: Checkpoint, opened: GradFile[], notes: string[]): Promise<Prepared> {
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
    langs = fromGradsFiles(cfg, cfg.grads, base, scored, fields, sets, gradsUsed, opened, notes);
  } else {
    const data = await loadData(cfg.data, cfg.langs ?? undefined);
    const present = languagesOf(data.filter((x) => x.kind !== 'benign'));
    if (!needsForward) langs = dataFreeLanguages(cfg, present, notes);
    else {
      const r = await fromCalibrationData(cfg, data, base, att, fields, sets, notes);
      langs = r.langs;
      benignSpec = r.benignSpec;
    }
  }
  if (cfg.setdiff && !sets.some((s) => s.name === 'benign') && needsForward) {
    throw new SilError('INVALID_ARGUMENT', '--setdiff needs the benign set as utility data; with --grads, give a {lang} pattern that has a benign file');
  }
  return { tensors, nInScope, fields, needsGrads, needsForward, nonfinite, nonfiniteFound, sets, langs, benignSpec, gradsUsed };
}

/** The sets of a --grads pattern (languages, and benign when its file exists), their files opened and validated; returns the languages. */
function fromGradsFiles(
  cfg: LocateConfig,
  pattern: string,
  base: Checkpoint,
  scored: readonly string[],
  fields: GradField[],
  sets: CalibrationSet[],
  gradsUsed: Array<{ path: string; sha256: string }>,
  opened: GradFile[],
  notes: string[],
): string[] {
  let langs: string[];
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
    opened.push(g);
    // snip over a plain gradient file uses |Σ∇| (exact for one example, or a gradient of one loss)
    const need = cfg.score === 'snip' && !scored.every((n) => g.has('absgrad', n)) ? ['grad' as const] : fields;
    g.validate(base, scored, need);
    gradsUsed.push({ path: path.resolve(file), sha256: sha256Path(file)! });
    sets.push({ name, examples: 0, batches: [], key: '', gradPath: file, gradFile: g });
  }
  return langs;
}

/** The languages of a score that uses no calibration data (they must still be in the data). */
function dataFreeLanguages(cfg: LocateConfig, present: string[], notes: string[]): string[] {
  const langs = cfg.langs ?? present;
  const missing = langs.filter((l) => !present.includes(l));
  if (missing.length) throw new SilError('INVALID_DATA', `no harmful prompts in language(s) ${missing.join(', ')}; the data has ${present.join(', ') || 'none'}`, { file: formatDataSpec(cfg.data) });
  if (langs.length === 0) throw new SilError('INVALID_DATA', 'empty calibration set: the data has no harmful prompts', { file: formatDataSpec(cfg.data) });
  if (cfg.benign) notes.push(`benign baseline: --score ${cfg.score} uses no calibration data, so it equals the language masks`);
  return langs;
}

/** The calibration sets of the data (per language, and benign), tokenized and batched, with their cache keys. */
async function fromCalibrationData(
  cfg: LocateConfig,
  data: Array<CalibrationRecord | PromptItem>,
  base: Checkpoint,
  att: Checkpoint,
  fields: GradField[],
  sets: CalibrationSet[],
  notes: string[],
): Promise<{ langs: string[]; benignSpec: DataSpec | null }> {
  let benignSpec: DataSpec | null = null;
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
  const langs = [...pairs.keys()];
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
    sets.push({ name, examples: examples.length, batches, key, gradPath: path.join(cfg.out, 'cache', gradCacheName(name, fields)), gradFile: null });
  }
  return { langs, benignSpec };
}

/** The longest (padded) sequence of any batch of the sets that compute gradients. */
export function longestSequence(sets: readonly CalibrationSet[]): number {
  let t = 0;
  for (const s of sets) for (const b of s.batches) t = Math.max(t, b.input_ids[0]?.length ?? 0);
  return t;
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
export function runKey(cfg: LocateConfig, base: Checkpoint, attacked: Checkpoint, sets: CalibrationSet[]): string {
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
    sets: sets.map((s) => [s.name, s.key, s.gradFile ? fileId(s.gradPath) : null]),
  });
}
