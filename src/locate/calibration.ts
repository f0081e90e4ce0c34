/**
 * Calibration sets for `sil locate`: prompts from a JSONL file in the calibration schema
 * (src/data/schema.ts), a MultiJail CSV (`multijail:PATH`) or a PolyRefuse folder
 * (`polyrefuse:DIR`, train split), paired with responses by `--responses`, then tokenized through
 * the base checkpoint's chat template with the loss on the response tokens only
 * (src/tokenizer/example.ts) and collated into right-padded batches.
 */
import { SilError } from '../errors';
import { loadMultiJail, loadPolyRefuse, parseResponseMode, readCalibrationJsonl, selectPairs } from '../data';
import type { CalibrationPair, CalibrationRecord, PromptItem, ResponseGenerator, ResponseMode } from '../data';
import type { Batch } from '../model/batch';
import { buildExample, collate, type Example } from '../tokenizer';
import type { CheckpointTokenizer } from '../tokenizer';
import { greedyGenerator } from './generate';

export interface DataSpec {
  kind: 'jsonl' | 'multijail' | 'polyrefuse';
  path: string;
}

/** `FILE` (JSONL), `multijail:PATH` or `polyrefuse:DIR`. */
export function parseDataSpec(s: string): DataSpec {
  const m = /^(multijail|polyrefuse|jsonl):(.+)$/.exec(s);
  if (m) return { kind: m[1] as DataSpec['kind'], path: m[2] };
  return { kind: 'jsonl', path: s };
}

export function formatDataSpec(d: DataSpec): string {
  return d.kind === 'jsonl' ? d.path : `${d.kind}:${d.path}`;
}

/** Loads the prompts (and, for JSONL, the records with their responses) of a data source. */
export async function loadData(spec: DataSpec, langs?: readonly string[]): Promise<Array<CalibrationRecord | PromptItem>> {
  switch (spec.kind) {
    case 'jsonl':
      return readCalibrationJsonl(spec.path);
    case 'multijail':
      return loadMultiJail(spec.path, { langs });
    case 'polyrefuse':
      return loadPolyRefuse(spec.path, { kind: 'harmful', split: 'train', langs });
  }
}

export interface PairOptions {
  kind: 'harmful' | 'benign';
  langs?: readonly string[];
  responses: ResponseMode;
  generate?: ResponseGenerator;
  /** system prompt for every pair (replaces the data's own) */
  system?: string;
  /** keep the first N pairs per language */
  maxExamples?: number;
  source: string;
}

/** (prompt, response) pairs per language, in the data's order; an empty language is an error. */
export async function calibrationPairs(data: ReadonlyArray<CalibrationRecord | PromptItem>, o: PairOptions): Promise<Map<string, CalibrationPair[]>> {
  const trimmed = o.maxExamples === undefined ? data : limitPerLanguage(data, o.kind, o.maxExamples);
  const pairs = await selectPairs(trimmed, o.responses, { kind: o.kind, langs: o.langs, generate: o.generate, source: o.source });
  for (const [lang, list] of pairs) {
    if (list.length === 0) throw new SilError('INVALID_DATA', `empty calibration set: no ${o.kind} prompts for language ${lang}`, { file: o.source });
    if (o.system !== undefined) for (const p of list) p.system = o.system;
  }
  return pairs;
}

/** Keeps the first `n` distinct prompt ids of `kind` per language (with all their records). */
function limitPerLanguage(data: ReadonlyArray<CalibrationRecord | PromptItem>, kind: 'harmful' | 'benign', n: number): Array<CalibrationRecord | PromptItem> {
  const isKind = (x: CalibrationRecord | PromptItem) => (x.kind === 'benign') === (kind === 'benign');
  const kept = new Map<string, Set<string>>();
  for (const x of data) {
    if (!isKind(x)) continue;
    let ids = kept.get(x.lang);
    if (!ids) kept.set(x.lang, (ids = new Set()));
    if (ids.size < n) ids.add(x.id);
  }
  return data.filter((x) => !isKind(x) || kept.get(x.lang)!.has(x.id));
}

/**
 * Tokenized examples (chat template, labels on the response and end-of-turn token only), each cut
 * to the model's `context` where longer (see `buildExample`).
 */
export function tokenizePairs(tok: CheckpointTokenizer, pairs: readonly CalibrationPair[], maxLength?: number, context?: number): Example[] {
  return pairs.map((p) => buildExample(tok, { system: p.system, prompt: p.prompt, response: p.response }, { maxLength, context }));
}

/** Consecutive examples, `size` at a time, right-padded. */
export function toBatches(examples: readonly Example[], size: number, padId: number): Batch[] {
  const out: Batch[] = [];
  for (let i = 0; i < examples.length; i += size) out.push(collate(examples.slice(i, i + size), padId));
  return out;
}

export interface CalibrationSetOptions {
  /** FILE.jsonl, multijail:CSV or polyrefuse:DIR */
  data: string;
  lang: string;
  /** dataset | refusal | compliance | generate:<checkpoint> (default compliance, as sil locate) */
  responses?: string;
  system?: string;
  /** harmful (default) or benign prompts */
  kind?: 'harmful' | 'benign';
  /** the first N prompts */
  limit?: number;
  maxLength?: number;
  /** for --responses generate:… */
  maxNewTokens?: number;
}

/**
 * One language's calibration examples exactly as `sil locate` builds them: the data's prompts of
 * that language paired with responses, rendered through the checkpoint's chat template, labels on
 * the response and end-of-turn token only.
 */
export async function calibrationExamples(tok: CheckpointTokenizer, o: CalibrationSetOptions): Promise<{ examples: Example[]; pairs: CalibrationPair[] }> {
  const spec = parseDataSpec(o.data);
  const responses = parseResponseMode(o.responses ?? 'compliance');
  const generate = responses.mode === 'generate' ? greedyGenerator(tok, { maxNewTokens: o.maxNewTokens ?? 32, system: o.system }) : undefined;
  const data = await loadData(spec, [o.lang]);
  const pairs = await calibrationPairs(data, { kind: o.kind ?? 'harmful', langs: [o.lang], responses, generate, system: o.system, maxExamples: o.limit, source: formatDataSpec(spec) });
  const list = pairs.get(o.lang) ?? [];
  if (list.length === 0) throw new SilError('INVALID_DATA', `no ${o.kind ?? 'harmful'} prompts in language ${o.lang}`, { file: formatDataSpec(spec) });
  return { examples: tokenizePairs(tok, list, o.maxLength), pairs: list };
}
