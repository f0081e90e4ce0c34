/**
 * MultiJail (Deng et al., ICLR 2024): a CSV with columns `id,source,tags,<lang>…` — one column per
 * language, each row one harmful prompt and its translations; quoted fields may hold commas and
 * newlines; the file starts with a UTF-8 byte-order mark.
 */
import { parseString } from 'fast-csv';
import { SilError } from '../errors';
import type { PromptItem } from './schema';
import { readTextInput } from './text';

const META_COLUMNS = new Set(['id', 'source', 'tags']);

/** `"['a', 'b']"` (a Python list literal, as MultiJail stores tags) → `"a; b"`. */
function tagsOf(raw: string): string {
  const items = [...raw.matchAll(/'([^']*)'|"([^"]*)"/g)].map((m) => m[1] ?? m[2]);
  return items.length ? items.join('; ') : raw;
}

async function readRows(file: string): Promise<Record<string, string>[]> {
  const text = readTextInput(file, 'MultiJail CSV');
  return new Promise((resolve, reject) => {
    const rows: Record<string, string>[] = [];
    parseString<Record<string, string>, Record<string, string>>(text.replace(/^\uFEFF/, ''), { headers: true, strictColumnHandling: true })
      .on('error', (e: Error) => reject(new SilError('INVALID_DATA', `CSV does not parse: ${e.message}`, { file })))
      .on('data-invalid', (_row: unknown, n: number) => reject(new SilError('INVALID_DATA', `row ${n}: wrong number of columns`, { file })))
      .on('data', (row: Record<string, string>) => rows.push(row))
      .on('end', () => resolve(rows));
  });
}

/** The language columns of a MultiJail CSV header. */
export function multiJailLanguages(header: readonly string[]): string[] {
  return header.filter((c) => !META_COLUMNS.has(c));
}

/**
 * Loads MultiJail's harmful prompts as `PromptItem`s (id = the row's `id`, category = its tags),
 * for `langs` (default: every language column). A requested language without a column is an error.
 */
export async function loadMultiJail(file: string, opts: { langs?: readonly string[] } = {}): Promise<PromptItem[]> {
  const rows = await readRows(file);
  if (rows.length === 0) throw new SilError('INVALID_DATA', 'MultiJail CSV has no rows', { file });
  const available = multiJailLanguages(Object.keys(rows[0]));
  if (!('id' in rows[0])) throw new SilError('INVALID_DATA', `no "id" column; header is ${Object.keys(rows[0]).join(',')}`, { file });
  const langs = opts.langs ?? available;
  const missing = langs.filter((l) => !available.includes(l));
  if (missing.length) {
    throw new SilError('INVALID_DATA', `no column for language(s) ${missing.join(', ')}; available: ${available.join(', ')}`, { file });
  }
  const items: PromptItem[] = [];
  for (const lang of langs) {
    rows.forEach((row, i) => {
      const prompt = row[lang];
      if (prompt.trim() === '') throw new SilError('INVALID_DATA', `row ${i + 2} (id ${row.id}): empty "${lang}" prompt`, { file });
      const item: PromptItem = { id: row.id, lang, kind: 'harmful', prompt };
      if (row.tags) item.category = tagsOf(row.tags);
      items.push(item);
    });
  }
  return items;
}
