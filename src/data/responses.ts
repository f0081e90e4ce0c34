/**
 * `--responses dataset|refusal|compliance|generate:<checkpoint>`: turns prompts into
 * (prompt, response) pairs per language.
 *
 * - `dataset`: the data's own responses — `harmful` records for harmful prompts, `benign` records
 *   for benign ones. Prompt-only data has none, which is an error.
 * - `refusal`: the prompt's `refusal` record in that language, else the language's generic refusal.
 * - `compliance`: the prompt's `harmful` (for benign prompts: `benign`) record, else the language's
 *   generic compliance opening ("Sure, here is …").
 * - `generate:<checkpoint>`: the checkpoint's own answers (the paper's SIL uses harmful completions),
 *   produced by a `ResponseGenerator` that a model runtime supplies; without one it is an error.
 */
import { SilError } from '../errors';
import { GENERIC_RESPONSES } from './generic';
import { languagesOf } from './schema';
import type { CalibrationRecord, PromptItem } from './schema';

export type ResponseMode =
  | { mode: 'dataset' }
  | { mode: 'refusal' }
  | { mode: 'compliance' }
  | { mode: 'generate'; checkpoint: string };

/** A prompt with the response the loss is computed on. */
export interface CalibrationPair {
  id: string;
  lang: string;
  kind: 'harmful' | 'benign';
  prompt: string;
  response: string;
  system?: string;
}

/**
 * The extension point for `generate:<checkpoint>`: returns one response per prompt, in order
 * (e.g. the checkpoint's greedy answers). Supplied by a model runtime.
 */
export type ResponseGenerator = (checkpoint: string, prompts: readonly PromptItem[]) => Promise<readonly string[]>;

export interface SelectOptions {
  /** Which prompts to pair: `harmful` (default) or `benign` (the benign baseline). */
  kind?: 'harmful' | 'benign';
  /** Languages to keep, in this order (default: every language in the data). Each must be present. */
  langs?: readonly string[];
  generate?: ResponseGenerator;
  /** The data's file or name, for error messages. */
  source?: string;
}

/** Parses a `--responses` value. */
export function parseResponseMode(value: string): ResponseMode {
  if (value === 'dataset' || value === 'refusal' || value === 'compliance') return { mode: value };
  const m = /^generate:(.+)$/.exec(value);
  if (m) return { mode: 'generate', checkpoint: m[1] };
  throw new SilError('INVALID_ARGUMENT', `--responses must be dataset, refusal, compliance or generate:<checkpoint>, found "${value}"`);
}

const promptKind = (x: CalibrationRecord | PromptItem): 'harmful' | 'benign' => (x.kind === 'benign' ? 'benign' : 'harmful');
const isRecord = (x: CalibrationRecord | PromptItem): x is CalibrationRecord => 'response' in x;
const key = (id: string, lang: string, kind: string) => `${id}\u0000${lang}\u0000${kind}`;

/** Pairs every prompt of the requested kind and languages with a response; returns pairs per language. */
export async function selectPairs(
  data: readonly (CalibrationRecord | PromptItem)[],
  mode: ResponseMode,
  opts: SelectOptions = {},
): Promise<Map<string, CalibrationPair[]>> {
  const kind = opts.kind ?? 'harmful';
  const where = { file: opts.source };
  const prompts = new Map<string, PromptItem>();
  const responses = new Map<string, string>();
  for (const x of data) {
    if (isRecord(x)) responses.set(key(x.id, x.lang, x.kind), x.response);
    if (promptKind(x) !== kind || prompts.has(key(x.id, x.lang, ''))) continue;
    const p: PromptItem = { id: x.id, lang: x.lang, kind, prompt: x.prompt };
    if (x.system !== undefined) p.system = x.system;
    prompts.set(key(x.id, x.lang, ''), p);
  }
  const present = languagesOf([...prompts.values()]);
  if (present.length === 0) throw new SilError('INVALID_DATA', `calibration set has no ${kind} prompts`, where);
  const langs = opts.langs ?? present;
  const missing = langs.filter((l) => !present.includes(l));
  if (missing.length) throw new SilError('INVALID_DATA', `no ${kind} prompts in language(s) ${missing.join(', ')}; the data has ${present.join(', ')}`, where);
  const selected = langs.flatMap((lang) => [...prompts.values()].filter((p) => p.lang === lang));

  let answers: readonly string[];
  if (mode.mode === 'generate') {
    if (!opts.generate) {
      throw new SilError('UNSUPPORTED_OPTION', `--responses generate:${mode.checkpoint} needs a model runtime to generate responses, and none was given`, where);
    }
    answers = await opts.generate(mode.checkpoint, selected);
    if (answers.length !== selected.length) {
      throw new SilError('INVALID_DATA', `generator returned ${answers.length} responses for ${selected.length} prompts`, where);
    }
  } else {
    answers = selected.map((p) => pick(p, mode.mode, responses, where));
  }
  const out = new Map<string, CalibrationPair[]>(langs.map((l) => [l, []]));
  selected.forEach((p, i) => {
    const pair: CalibrationPair = { id: p.id, lang: p.lang, kind, prompt: p.prompt, response: answers[i] };
    if (p.system !== undefined) pair.system = p.system;
    out.get(p.lang)!.push(pair);
  });
  return out;
}

function pick(p: PromptItem, mode: 'dataset' | 'refusal' | 'compliance', responses: Map<string, string>, where: { file?: string }): string {
  const own = (k: string) => responses.get(key(p.id, p.lang, k));
  const complying = p.kind === 'benign' ? 'benign' : 'harmful';
  if (mode === 'dataset') {
    const r = own(complying);
    if (r === undefined) {
      throw new SilError('INVALID_DATA', `--responses dataset: prompt ${p.id} (${p.lang}) has no ${complying} response in the data; use --responses refusal, compliance or generate:<checkpoint>`, where);
    }
    return r;
  }
  const r = own(mode === 'refusal' ? 'refusal' : complying) ?? GENERIC_RESPONSES[p.lang]?.[mode];
  if (r === undefined) {
    throw new SilError('INVALID_DATA', `--responses ${mode}: prompt ${p.id} (${p.lang}) has no ${mode} response and there is no generic one for "${p.lang}" (have: ${Object.keys(GENERIC_RESPONSES).join(', ')})`, where);
  }
  return r;
}
