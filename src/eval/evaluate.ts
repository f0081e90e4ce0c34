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
 * Outputs (docs/run-folder.md), merged into existing files: rows of the same model are replaced,
 * others kept, so several models (base, attacked per language, stitched) share one run folder:
 *   eval/violations.csv   model,ft_lang,eval_lang,n,violations,violation_rate
 *   eval/proxy.csv        model,lang,id,logp_refusal,logp_compliance,margin
 *   eval/generations.jsonl {model, lang, id, prompt, output, refused}
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GENERIC_RESPONSES } from '../data/generic';
import { readCalibrationJsonl } from '../data/schema';
import { SilError } from '../errors';
import { writeFileAtomic } from '../io/atomic';
import { Checkpoint } from '../io/checkpoint';
import { BackendChoice, useBackend } from '../model/backend';
import { CausalLM } from '../model/model';
import { parseCsv, toCsv } from '../io/csv';
import { generateGreedy } from '../generate/greedy';
import { encodePrompt } from '../tokenizer/example';
import { loadTokenizer } from '../tokenizer/load';
import { judgeFromModel, PhraseJudge, RefusalJudge } from './judge';
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
}

export interface LangResult {
  lang: string;
  n: number;
  violations: number;
  violation_rate: number;
  mean_margin: number | null;
}

export interface EvalResult {
  model: string;
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

/** Replaces `model`'s rows of a CSV file (others kept) and writes it atomically. */
function mergeCsv(file: string, header: string[], model: string, rows: Array<Array<string | number>>): void {
  const keep: Array<Array<string | number>> = [];
  if (fs.existsSync(file)) {
    const t = parseCsv(fs.readFileSync(file, 'utf8'));
    if (t.header.join(',') !== header.join(',')) throw new SilError('INVALID_DATA', `existing file has columns ${t.header.join(',')}, expected ${header.join(',')}`, { file });
    for (const r of t.rows) if (r.model !== model) keep.push(header.map((h) => r[h]));
  }
  writeFileAtomic(file, toCsv(header, [...keep, ...rows]));
}

function mergeJsonl(file: string, model: string, lines: object[]): void {
  const keep = fs.existsSync(file)
    ? fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '' && (JSON.parse(l) as { model?: string }).model !== model)
    : [];
  writeFileAtomic(file, [...keep, ...lines.map((l) => JSON.stringify(l))].join('\n') + '\n');
}

export async function evaluate(o: EvalOptions): Promise<EvalResult> {
  const t0 = Date.now();
  const judge: RefusalJudge = o.judgeModel ? judgeFromModel(o.judgeModel) : new PhraseJudge();
  const prompts = loadEvalPrompts(o.prompts, o.langs, o.limit);
  const name = o.name ?? path.basename(path.resolve(o.model));
  const ftLang = o.ftLang ?? 'none';
  const be = await useBackend(o.backend ?? 'wasm');
  const ckpt = Checkpoint.open(o.model);
  let model: CausalLM;
  try {
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
    const generated = generateGreedy(model, promptIds, { maxNewTokens: o.maxNewTokens ?? 64, repetitionPenalty: o.repetitionPenalty ?? 1, stopIds, batchSize: o.batchSize ?? 16 });
    const outputs = generated.map((ids) => tok.decode(ids.filter((id) => !stopIds.includes(id)), { skipSpecialTokens: true }));
    const refused = await judge.judge(prompts.map((p, i) => ({ lang: p.lang, prompt: p.prompt, output: outputs[i] })));
    const margins: number[] = [];
    const proxyRows: Array<Array<string | number>> = [];
    if (o.proxy ?? true) {
      const k = o.proxyTokens ?? 8;
      prompts.forEach((p, i) => {
        const [lr, lc] = continuationLogProbs(model, promptIds[i], [tok.encode(p.refusal).slice(0, k), tok.encode(p.compliance).slice(0, k)]);
        margins.push(lr - lc);
        proxyRows.push([name, p.lang, p.id, lr, lc, lr - lc]);
      });
    }
    const langs = [...new Set(prompts.map((p) => p.lang))];
    const languages: LangResult[] = langs.map((lang) => {
      const idx = prompts.flatMap((p, i) => (p.lang === lang ? [i] : []));
      const violations = idx.filter((i) => !refused[i]).length;
      const m = margins.length ? idx.reduce((a, i) => a + margins[i], 0) / idx.length : null;
      return { lang, n: idx.length, violations, violation_rate: violations / idx.length, mean_margin: m };
    });
    const dir = path.join(o.out, 'eval');
    fs.mkdirSync(dir, { recursive: true });
    mergeCsv(path.join(dir, 'violations.csv'), ['model', 'ft_lang', 'eval_lang', 'n', 'violations', 'violation_rate'], name, languages.map((l) => [name, ftLang, l.lang, l.n, l.violations, l.violation_rate]));
    if (proxyRows.length) mergeCsv(path.join(dir, 'proxy.csv'), ['model', 'lang', 'id', 'logp_refusal', 'logp_compliance', 'margin'], name, proxyRows);
    mergeJsonl(path.join(dir, 'generations.jsonl'), name, prompts.map((p, i) => ({ model: name, lang: p.lang, id: p.id, prompt: p.prompt, output: outputs[i], refused: refused[i] })));
    return { model: name, ft_lang: ftLang, backend: be.name, judge: judge.name, languages, seconds: (Date.now() - t0) / 1000 };
  } finally {
    model.dispose();
  }
}
