/**
 * CSV as the run folder writes it (RFC 4180: a header row, comma-separated, fields with commas,
 * quotes or newlines in double quotes, `""` for a quote). Small and synchronous: run-folder
 * tables are kilobytes to a few megabytes.
 */
import { SilError } from '../errors';

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

function quote(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** Formats a table as CSV with a header row; numbers are written as plain decimals (shortest round-trip form). */
export function toCsv(header: string[], rows: Array<Array<string | number | null>>): string {
  const cell = (v: string | number | null): string => (v === null ? '' : typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : quote(v));
  return [header.map(quote).join(','), ...rows.map((r) => r.map(cell).join(','))].join('\n') + '\n';
}
