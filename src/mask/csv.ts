/**
 * CSV text for the run folder's tables: a header row, plain decimals (shortest round-trip form),
 * empty cells for null, RFC 4180 quoting where a field needs it.
 */
function field(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv<T extends object>(columns: readonly (keyof T & string)[], rows: readonly T[]): string {
  const lines = [columns.join(',')];
  for (const r of rows) lines.push(columns.map((c) => field(r[c])).join(','));
  return lines.join('\n') + '\n';
}
