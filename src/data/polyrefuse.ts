/**
 * PolyRefuse (Wang et al. 2025): JSON arrays `harmful_{train,test}_<lang>.json` and
 * `harmless_{train,test}_<lang>.json` of `{instruction, category[, instruction_translated]}`. In the
 * test files `instruction` is the English source and `instruction_translated` the translation (the
 * English test file may lack it); in the train files `instruction` is already in the file's language.
 * Entries are aligned across languages by position, so entry i has the same id in every language.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SilError } from '../errors';
import type { PromptItem } from './schema';
import { readTextInput } from './text';

export type PolyRefuseKind = 'harmful' | 'harmless';
export type PolyRefuseSplit = 'train' | 'test';

export interface PolyRefuseOptions {
  kind: PolyRefuseKind;
  split: PolyRefuseSplit;
  /** Default: every language with a file for this kind and split. */
  langs?: readonly string[];
}

/** Languages with a `<kind>_<split>_<lang>.json` file in `dir`. */
export function polyRefuseLanguages(dir: string, kind: PolyRefuseKind, split: PolyRefuseSplit): string[] {
  const re = new RegExp(`^${kind}_${split}_([A-Za-z-]+)\\.json$`);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    throw new SilError('FILE_NOT_FOUND', 'PolyRefuse folder not found', { file: dir });
  }
  return names.map((n) => re.exec(n)?.[1]).filter((l): l is string => l !== undefined).sort();
}

function readEntries(file: string): unknown[] {
  const text = readTextInput(file, 'PolyRefuse file');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new SilError('INVALID_DATA', `not valid JSON (${(e as Error).message})`, { file });
  }
  if (!Array.isArray(value)) throw new SilError('INVALID_DATA', 'expected a JSON array of {instruction, category}', { file });
  return value;
}

/** Loads PolyRefuse prompts; `harmless` prompts come back with kind `benign`. */
export function loadPolyRefuse(dir: string, opts: PolyRefuseOptions): PromptItem[] {
  const available = polyRefuseLanguages(dir, opts.kind, opts.split);
  const langs = opts.langs ?? available;
  const missing = langs.filter((l) => !available.includes(l));
  if (missing.length) {
    throw new SilError('INVALID_DATA', `no ${opts.kind}_${opts.split} file for language(s) ${missing.join(', ')}; available: ${available.join(', ') || 'none'}`, { file: dir });
  }
  const items: PromptItem[] = [];
  for (const lang of langs) {
    const file = path.join(dir, `${opts.kind}_${opts.split}_${lang}.json`);
    readEntries(file).forEach((entry, i) => {
      const e = (entry ?? {}) as { instruction?: unknown; instruction_translated?: unknown; category?: unknown };
      const text = opts.split === 'test' && e.instruction_translated !== undefined ? e.instruction_translated : e.instruction;
      if (typeof text !== 'string' || text.trim() === '') {
        throw new SilError('INVALID_DATA', `entry ${i}: expected a non-empty "instruction"${opts.split === 'test' ? ' or "instruction_translated"' : ''} string`, { file });
      }
      const item: PromptItem = { id: `${opts.kind}-${opts.split}-${i}`, lang, kind: opts.kind === 'harmful' ? 'harmful' : 'benign', prompt: text };
      if (typeof e.category === 'string') item.category = e.category;
      items.push(item);
    });
  }
  return items;
}
