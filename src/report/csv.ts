/**
 * CSV as the run folder writes it (RFC 4180: a header row, comma-separated, fields with commas,
 * quotes or newlines in double quotes, `""` for a quote). Small and synchronous: run-folder
 * tables are kilobytes to a few megabytes.
 */

export interface CsvTable {
  header: string[];
  rows: Array<Record<string, string>>;
}

/** Splits CSV text into records of fields. */
export function parseCsvRecords(text: string): string[][] {
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
  if (field !== '' || rec.length > 0) {
    rec.push(field);
    out.push(rec);
  }
  return out.filter((r) => !(r.length === 1 && r[0] === ''));
}

/** Parses CSV text with a header row into objects keyed by column name. */
export function parseCsv(text: string): CsvTable {
  const recs = parseCsvRecords(text);
  if (recs.length === 0) return { header: [], rows: [] };
  const header = recs[0].map((h) => h.trim());
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
