/**
 * Calibration data: one JSON object per line (JSONL),
 *
 *   {"id": "lockpick", "lang": "it", "kind": "refusal", "prompt": "…", "response": "…", "system": "…"}
 *
 * - `id`: names the prompt; the same id in another language is a translation of it.
 * - `lang`: ISO 639-1 code (`en`, `it`, `zh`, …; a region suffix such as `pt-BR` is allowed).
 * - `kind`: `harmful` (a harmful prompt with a complying, harmful response), `refusal` (a harmful
 *   prompt with a refusal), `benign` (a harmless prompt with a helpful response).
 * - `prompt`, `response`: non-empty strings. `system` (optional): a system prompt.
 * No other keys; (`id`, `lang`, `kind`) is unique within a file.
 *
 * Prompt-only sources (MultiJail, PolyRefuse) load as `PromptItem`s: responses are supplied later
 * (see `responses.ts`).
 */
import { SilError } from '../errors';
import { readTextInput } from './text';

export const KINDS = ['harmful', 'refusal', 'benign'] as const;
export type CalibrationKind = (typeof KINDS)[number];

export interface CalibrationRecord {
  id: string;
  lang: string;
  kind: CalibrationKind;
  prompt: string;
  response: string;
  system?: string;
}

/** A prompt without a response, from a prompt-only dataset or taken from calibration records. */
export interface PromptItem {
  id: string;
  lang: string;
  /** `harmful` prompts are what safety refuses; `benign` ones are the baseline. */
  kind: 'harmful' | 'benign';
  prompt: string;
  system?: string;
  /** The dataset's category or tags, where it has them. */
  category?: string;
}

const LANG = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;
const KEYS = new Set(['id', 'lang', 'kind', 'prompt', 'response', 'system']);

function fail(message: string, file: string, line: number): never {
  throw new SilError('INVALID_DATA', `line ${line}: ${message}`, { file });
}

/** Checks one parsed line against the schema; errors name `file` and `line`. */
export function validateRecord(value: unknown, file: string, line: number): CalibrationRecord {
  if (!value || typeof value !== 'object' || Array.isArray(value)) fail('expected a JSON object', file, line);
  const v = value as Record<string, unknown>;
  const unknown = Object.keys(v).filter((k) => !KEYS.has(k));
  if (unknown.length) fail(`unknown key(s) ${unknown.join(', ')}; expected ${[...KEYS].join(', ')}`, file, line);
  for (const key of ['id', 'prompt', 'response'] as const) {
    if (typeof v[key] !== 'string' || (v[key] as string).trim() === '') fail(`"${key}" must be a non-empty string, found ${JSON.stringify(v[key])}`, file, line);
  }
  if (typeof v.lang !== 'string' || !LANG.test(v.lang)) fail(`"lang" must be an ISO 639-1 code such as "en", found ${JSON.stringify(v.lang)}`, file, line);
  if (!KINDS.includes(v.kind as CalibrationKind)) fail(`"kind" must be one of ${KINDS.join(', ')}, found ${JSON.stringify(v.kind)}`, file, line);
  if (v.system !== undefined && typeof v.system !== 'string') fail(`"system" must be a string when present, found ${JSON.stringify(v.system)}`, file, line);
  const r: CalibrationRecord = { id: v.id as string, lang: v.lang, kind: v.kind as CalibrationKind, prompt: v.prompt as string, response: v.response as string };
  if (v.system !== undefined) r.system = v.system as string;
  return r;
}

/** Parses and validates JSONL text (blank lines allowed); `file` is named in errors. */
export function parseCalibrationJsonl(text: string, file: string): CalibrationRecord[] {
  const records: CalibrationRecord[] = [];
  const seen = new Map<string, number>();
  text.replace(/^\uFEFF/, '').split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      fail(`not valid JSON (${(e as Error).message})`, file, line);
    }
    const r = validateRecord(value, file, line);
    const key = `${r.id}\u0000${r.lang}\u0000${r.kind}`;
    const first = seen.get(key);
    if (first !== undefined) fail(`duplicate (id ${r.id}, lang ${r.lang}, kind ${r.kind}), first on line ${first}`, file, line);
    seen.set(key, line);
    records.push(r);
  });
  if (records.length === 0) throw new SilError('INVALID_DATA', 'calibration file has no records', { file });
  return records;
}

/** Reads and validates a calibration JSONL file. */
export function readCalibrationJsonl(file: string): CalibrationRecord[] {
  return parseCalibrationJsonl(readTextInput(file, 'calibration file'), file);
}

/** Languages present in `items`, in first-seen order. */
export function languagesOf(items: readonly { lang: string }[]): string[] {
  return [...new Set(items.map((r) => r.lang))];
}
