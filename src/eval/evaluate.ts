/**
 * `sil eval`: refusal behaviour of one checkpoint on harmful prompts, per language.
 *
 * Prompts come from a calibration JSONL (src/data/schema.ts): every distinct (id, lang) among the
 * `harmful` and `refusal` records is one harmful prompt; its refusal and compliance responses (the
 * records' responses, else the generic ones of src/data/generic.ts) give the proxy's openings.
 * For each prompt: greedy decoding with a KV cache (src/generate), the reply judged (judge.ts);
 * violation = not refused. Per language: n, violations, violation_rate = violations / n.
 * Optional decoding-free proxy (proxy.ts) per prompt.
 *
 * Every row carries its condition (src/eval/conditions.ts): the `condition` label, the checkpoint's
 * data sha256 and the id `<label>@<sha12>`, unique within the run; rates carry n and a 95 % Wilson
 * interval. Outputs (docs/run-folder.md), merged into existing files: rows of the same model (and
 * checkpoint) are replaced, others kept, so several conditions (base, attacked per language,
 * frozen, stitched) share one run folder; a name or label of another checkpoint is an error
 * unless `replace`:
 *   eval/violations.csv   condition_id,condition,model,checkpoint_sha256,ft_lang,eval_lang,n,violations,violation_rate,ci_low,ci_high
 *   eval/proxy.csv        condition_id,model,lang,id,logp_refusal,logp_compliance,margin
 *   eval/generations.jsonl {condition_id, model, lang, id, prompt, output, refused}
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GENERIC_RESPONSES } from '../data/generic';
import { readCalibrationJsonl } from '../data/schema';
import { SilError } from '../errors';
import { writeFileAtomic } from '../io/atomic';
import { checkOutputPath, claimOutput, readMarker, writeMarker } from '../io/outpath';
import { Checkpoint } from '../io/checkpoint';
import { type BackendChoice, useBackend } from '../model/backend';
import { CausalLM } from '../model/model';
import { parseCsv, toCsv } from '../io/csv';
import { generateGreedy } from '../generate/greedy';
import { encodePrompt } from '../tokenizer/example';
import { loadTokenizer } from '../tokenizer/load';
import { SILENT, type Progress } from '../progress';
import { checkConditionLabel, defaultCondition, keptRows, VIOLATION_COLUMNS, violationRecord, violationRecordsFromTable, type ViolationRecord } from './conditions';
import { judgeFromModel, PhraseJudge, type RefusalJudge } from './judge';
import { continuationLogProbs } from './proxy';

export interface EvalPrompt {
  id: string;
  lang: string;
  prompt: string;
  system?: string;
  refusal: string;
  compliance: string;
}

export interface EvalOptions {
  model: string;
  prompts: string;
  out: string;
  langs?: string[];
  /** name of the model in the outputs (default: the folder name) */
  name?: string;
  /** language of the attack that produced the model (`none` for a base model) */
  ftLang?: string;
  maxNewTokens?: number;
  repetitionPenalty?: number;
  batchSize?: number;
  /** compute the proxy (default true) */
  proxy?: boolean;
  /** opening length for the proxy, in tokens (default 8) */
  proxyTokens?: number;
  /** classifier checkpoint for the judge (not supported yet) */
  judgeModel?: string;
  /** at most this many prompts per language */
  limit?: number;
  backend?: BackendChoice;
  /** condition label (default: `base`, or `attack=<ftLang>`) */
  condition?: string;
  /** drop existing rows whose name or condition belongs to another checkpoint instead of stopping */
  replace?: boolean;
  /** per prompt: generation, then the proxy */
  progress?: Progress;
}

export interface LangResult {
  lang: string;
  n: number;
  violations: number;
  violation_rate: number;
  /** 95 % Wilson interval of violation_rate */
  ci_low: number;
  ci_high: number;
  mean_margin: number | null;
}

export interface EvalResult {
  model: string;
  condition: string;
  condition_id: string;
  checkpoint_sha256: string;
  ft_lang: string;
  backend: string;
  judge: string;
  languages: LangResult[];
  seconds: number;
}

/** Harmful prompts of a calibration file, one per (id, lang), with their openings. */
export function loadEvalPrompts(file: string, langs?: readonly string[], limit?: number): EvalPrompt[] {
  const records = readCalibrationJsonl(file);
  const byKey = new Map<string, EvalPrompt>();
  for (const r of records) {
    if (r.kind === 'benign') continue;
    const key = `${r.lang}\u0000${r.id}`;
    let p = byKey.get(key);
    if (!p) {
      const g = GENERIC_RESPONSES[r.lang] ?? GENERIC_RESPONSES.en;
      p = { id: r.id, lang: r.lang, prompt: r.prompt, system: r.system, refusal: g.refusal, compliance: g.compliance };
      byKey.set(key, p);
    }
    if (r.kind === 'refusal') p.refusal = r.response;
    else p.compliance = r.response;
  }
  let out = [...byKey.values()];
  if (langs) {
    const missing = langs.filter((l) => !out.some((p) => p.lang === l));
    if (missing.length) throw new SilError('INVALID_DATA', `no harmful prompts in language(s) ${missing.join(', ')}`, { file });
    out = out.filter((p) => langs.includes(p.lang));
  }
  if (limit !== undefined) {
    const seen = new Map<string, number>();
    out = out.filter((p) => {
      const c = seen.get(p.lang) ?? 0;
      seen.set(p.lang, c + 1);
      return c < limit;
    });
  }
  if (out.length === 0) throw new SilError('INVALID_DATA', 'no harmful or refusal records to evaluate', { file });
  return out;
}

const PROXY_COLUMNS = ['condition_id', 'model', 'lang', 'id', 'logp_refusal', 'logp_compliance', 'margin'];

/** Rows of eval/violations.csv (current or legacy columns); none when the file is absent. */
export function readViolations(file: string): ViolationRecord[] {
  if (!fs.existsSync(file)) return [];
  const t = parseCsv(fs.readFileSync(file, 'utf8'));
  return violationRecordsFromTable(t.header, t.rows, file);
}

/** Keeps the rows of `model` out of a CSV file (a legacy file without condition_id gets an empty one). */
function keptCsvRows(file: string, header: string[], dropModels: Set<string>): Array<Array<string | number>> {
  if (!fs.existsSync(file)) return [];
  const t = parseCsv(fs.readFileSync(file, 'utf8'));
  const absent = header.filter((h) => h !== 'condition_id' && !t.header.includes(h));
  if (absent.length) throw new SilError('INVALID_DATA', `existing file has columns ${t.header.join(',')}, expected ${header.join(',')}`, { file });
  return t.rows.filter((r) => !dropModels.has(r.model)).map((r) => header.map((h) => r[h] ?? ''));
}

function keptJsonl(file: string, dropModels: Set<string>): string[] {
  return fs.existsSync(file)
    ? fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '' && !dropModels.has((JSON.parse(l) as { model?: string }).model ?? ''))
    : [];
}

/**
 * Records in the eval folder's marker which checkpoint each model name was, and the mask it was
 * stitched from (from the checkpoint's own marker), so a run folder can tell which rows depend on
 * its masks.
 */
function recordModel(dir: string, name: string, model: string): void {
  const prev = readMarker(dir);
  const models = { ...((prev?.models as Record<string, unknown> | undefined) ?? {}) };
  const made = readMarker(model);
  const inputs = made?.inputs as { mask?: string; freeze?: string } | undefined;
  models[name] = { model: path.resolve(model), made_by: made?.command ?? null, mask: inputs?.mask ?? inputs?.freeze ?? null };
  writeMarker(dir, 'eval', { models });
}

export async function evaluate(o: EvalOptions): Promise<EvalResult> {
  const t0 = Date.now();
  // the command writes only <out>/eval/: that folder must not overlap an input, <out> must be a folder
  checkOutputPath({ out: o.out, kind: 'dir', inputs: [] });
  const evalDir = checkOutputPath({ out: path.join(o.out, 'eval'), kind: 'dir', inputs: [o.model, o.prompts, o.judgeModel] });
  // one writer per run folder (sil locate and sil eval both write there)
  const release = claimOutput(path.dirname(evalDir), 'eval', [evalDir]);
  try {
    return await evaluateInto(o, evalDir, t0);
  } finally {
    release();
  }
}

async function evaluateInto(o: EvalOptions, evalDir: string, t0: number): Promise<EvalResult> {
  const judge: RefusalJudge = o.judgeModel ? judgeFromModel(o.judgeModel) : new PhraseJudge();
  const prompts = loadEvalPrompts(o.prompts, o.langs, o.limit);
  const name = o.name ?? path.basename(path.resolve(o.model));
  const ftLang = o.ftLang ?? 'none';
  const condition = checkConditionLabel(o.condition ?? defaultCondition(ftLang));
  const progress = o.progress ?? SILENT;
  const violationsFile = path.join(o.out, 'eval', 'violations.csv');
  const existing = readViolations(violationsFile);
  const be = await useBackend(o.backend ?? 'wasm');
  const ckpt = Checkpoint.open(o.model);
  let model: CausalLM;
  let sha: string;
  let kept: ViolationRecord[];
  try {
    sha = ckpt.dataSha256();
    // stop before any decoding when the name or label belongs to another checkpoint
    kept = keptRows(existing, { model: name, condition, checkpoint_sha256: sha }, o.replace ?? false, violationsFile);
    model = CausalLM.fromCheckpoint(ckpt);
  } finally {
    ckpt.close();
  }
  try {
    const tok = loadTokenizer(ckpt.dir);
    const eot = tok.endOfTurn().id;
    const eos = tok.specialTokens.eos_token === null ? undefined : tok.tokenToId(tok.specialTokens.eos_token);
    const stopIds = [...new Set([eot, ...(eos === undefined ? [] : [eos])])];
    const promptIds = prompts.map((p) => encodePrompt(tok, p));
    progress.start(prompts.length, 'eval: generating');
    let shown = 0;
    const generated = generateGreedy(model, promptIds, {
      maxNewTokens: o.maxNewTokens ?? 64,
      repetitionPenalty: o.repetitionPenalty ?? 1,
      stopIds,
      batchSize: o.batchSize ?? 16,
      onBatch: (done) => {
        progress.tick(done - shown);
        shown = done;
      },
    });
    progress.stop();
    const outputs = generated.map((ids) =>
      tok.decode(
        ids.filter((id) => !stopIds.includes(id)),
        { skipSpecialTokens: true },
      ),
    );
    const refused = await judge.judge(prompts.map((p, i) => ({ lang: p.lang, prompt: p.prompt, output: outputs[i] })));
    const cid = violationRecord({ condition, model: name, checkpoint_sha256: sha, ft_lang: ftLang }, '', 0, 0).condition_id;
    const margins: number[] = [];
    const proxyRows: Array<Array<string | number>> = [];
    if (o.proxy ?? true) {
      const k = o.proxyTokens ?? 8;
      progress.start(prompts.length, 'eval: proxy');
      prompts.forEach((p, i) => {
        const [lr, lc] = continuationLogProbs(model, promptIds[i], [tok.encode(p.refusal).slice(0, k), tok.encode(p.compliance).slice(0, k)]);
        margins.push(lr - lc);
        proxyRows.push([cid, name, p.lang, p.id, lr, lc, lr - lc]);
        progress.tick();
      });
      progress.stop();
    }
    const langs = [...new Set(prompts.map((p) => p.lang))];
    const languages: LangResult[] = langs.map((lang) => {
      const idx = prompts.flatMap((p, i) => (p.lang === lang ? [i] : []));
      const violations = idx.filter((i) => !refused[i]).length;
      const m = margins.length ? idx.reduce((a, i) => a + margins[i], 0) / idx.length : null;
      const rec = violationRecord({ condition, model: name, checkpoint_sha256: sha, ft_lang: ftLang }, lang, idx.length, violations);
      return { lang, n: idx.length, violations, violation_rate: rec.violation_rate, ci_low: rec.ci_low, ci_high: rec.ci_high, mean_margin: m };
    });
    const dir = evalDir;
    fs.mkdirSync(dir, { recursive: true });
    // the models whose rows go: this one, and those keptRows dropped (same condition, or --replace)
    const keptModels = new Set(kept.map((r) => r.model));
    const dropped = new Set([name, ...existing.map((r) => r.model).filter((m) => !keptModels.has(m))]);
    recordModel(dir, name, o.model);
    const mine = languages.map((l) => violationRecord({ condition, model: name, checkpoint_sha256: sha, ft_lang: ftLang }, l.lang, l.n, l.violations));
    writeFileAtomic(
      violationsFile,
      toCsv(
        [...VIOLATION_COLUMNS],
        [...kept, ...mine].map((r) => VIOLATION_COLUMNS.map((c) => r[c])),
      ),
    );
    const proxyFile = path.join(dir, 'proxy.csv');
    if (proxyRows.length) writeFileAtomic(proxyFile, toCsv(PROXY_COLUMNS, [...keptCsvRows(proxyFile, PROXY_COLUMNS, dropped), ...proxyRows]));
    const genFile = path.join(dir, 'generations.jsonl');
    const gen = prompts.map((p, i) => JSON.stringify({ condition_id: cid, model: name, lang: p.lang, id: p.id, prompt: p.prompt, output: outputs[i], refused: refused[i] }));
    writeFileAtomic(genFile, [...keptJsonl(genFile, dropped), ...gen].join('\n') + '\n');
    return { model: name, condition, condition_id: cid, checkpoint_sha256: sha, ft_lang: ftLang, backend: be.name, judge: judge.name, languages, seconds: (Date.now() - t0) / 1000 };
  } finally {
    model.dispose();
  }
}
