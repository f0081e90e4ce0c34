/**
 * CSV, the one module every table of sil goes through (run folder, delta, report figures, eval).
 *
 * Written with fast-csv's formatter (RFC 4180): a header row, commas, `\n` after every row
 * including the last, a field holding a comma, a double quote or a line break in double quotes with
 * `""` for a quote. Read back with `parseCsv` (the same rules; a BOM and `\r\n` are accepted).
 *
 * Numbers are plain decimals: the shortest digits that read back to the same double, never an
 * exponent (1.5e-7 is written 0.00000015, 1e21 as 1000000000000000000000). NaN, Infinity and
 * -Infinity are spelled so; null and undefined are empty cells.
 */
import { format } from 'fast-csv';
import { SilError } from '../errors';

export type CsvCell = string | number | null | undefined;

/** A number as a plain decimal (no exponent) with the shortest round-trip digits; NaN/±Infinity spelled out. */
export function csvNumber(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'NaN' : x > 0 ? 'Infinity' : '-Infinity';
  const s = String(x);
  if (!/e/i.test(s)) return s;
  const [mant, expS] = s.split(/e/i);
  const exp = Number(expS);
  const neg = mant.startsWith('-');
  const digits = mant.replace(/^-/, '').replace('.', '');
  const intLen = mant.replace(/^-/, '').split('.')[0].length;
  const point = intLen + exp;
  let out: string;
  if (point <= 0) out = '0.' + '0'.repeat(-point) + digits;
  else if (point >= digits.length) out = digits + '0'.repeat(point - digits.length);
  else out = digits.slice(0, point) + '.' + digits.slice(point);
  return (neg ? '-' : '') + out;
}

/** One cell's text, before quoting. */
export function csvCell(v: CsvCell): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'number' ? csvNumber(v) : v;
}

/** CSV text for a header and rows of cells. */
export function toCsv(header: readonly string[], rows: ReadonlyArray<readonly CsvCell[]>): string {
  // fast-csv's formatter transforms each row as it is written, so its output can be read back at once.
  const stream = format<string[], string[]>({ headers: false });
  const parts: string[] = [];
  const take = () => {
    const chunk: unknown = stream.read();
    if (chunk !== null) parts.push(String(chunk));
  };
  stream.write([...header]);
  take();
  for (const r of rows) {
    stream.write(r.map(csvCell));
    take();
  }
  stream.destroy();
  return parts.join('') + '\n';
}

/** CSV text for objects, one column per key in `columns`. */
export function objectsToCsv<T extends object>(columns: readonly (keyof T & string)[], rows: readonly T[]): string {
  return toCsv(
    columns,
    rows.map((r) => columns.map((c) => r[c] as CsvCell)),
  );
}

export interface CsvTable {
  header: string[];
  rows: Array<Record<string, string>>;
}

/** Splits CSV text into records of fields; with `file`, an unterminated quote is an INVALID_DATA SilError naming it. */
export function parseCsvRecords(text: string, file?: string): string[][] {
  const out: string[][] = [];
  let rec: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  while (i < src.length) {
    const c = src[i];
    if (quoted) {
      if (c === '"') {
        if (src[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else field += c;
      i++;
      continue;
    }
    if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      rec.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && src[i + 1] === '\n') i++;
      rec.push(field);
      out.push(rec);
      rec = [];
      field = '';
    } else field += c;
    i++;
  }
  if (quoted && file !== undefined) throw new SilError('INVALID_DATA', `CSV ends inside a quoted field (record ${out.length + 1})`, { file });
  if (field !== '' || rec.length > 0) {
    rec.push(field);
    out.push(rec);
  }
  return out.filter((r) => !(r.length === 1 && r[0] === ''));
}

/**
 * Parses CSV text with a header row into objects keyed by column name. With `file` the table is
 * checked as an input: every record has as many fields as the header, and no column is named twice.
 */
export function parseCsv(text: string, file?: string): CsvTable {
  const recs = parseCsvRecords(text, file);
  if (recs.length === 0) return { header: [], rows: [] };
  const header = recs[0].map((h) => h.trim());
  if (file !== undefined) {
    const dup = header.find((h, j) => header.indexOf(h) !== j);
    if (dup !== undefined) throw new SilError('INVALID_DATA', `CSV header names column "${dup}" twice`, { file });
    const bad = recs.findIndex((r) => r.length !== header.length);
    if (bad >= 0) throw new SilError('INVALID_DATA', `CSV record ${bad + 1} has ${recs[bad].length} field(s), the header ${header.length}`, { file });
  }
  const rows = recs.slice(1).map((r) => {
    const o: Record<string, string> = {};
    header.forEach((h, j) => (o[h] = r[j] ?? ''));
    return o;
  });
  return { header, rows };
}
