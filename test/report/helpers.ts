/** Helpers for the report tests: temp folders, plain CSV reading independent of src/io/csv.ts. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export function tmpDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `sil-report-${tag}-`));
}

/** Reads a CSV without quoted fields (what the synthetic run writes) as objects. */
export function readPlainCsv(file: string): Array<Record<string, string>> {
  const [head, ...lines] = fs.readFileSync(file, 'utf8').trim().split('\n');
  const cols = head.split(',');
  return lines.map((l) => {
    const f = l.split(',');
    return Object.fromEntries(cols.map((c, i) => [c, f[i]]));
  });
}

/** Number of matches of `re` in `s`. */
export function count(s: string, re: RegExp): number {
  return (s.match(new RegExp(re.source, re.flags.includes('g') ? re.flags : re.flags + 'g')) ?? []).length;
}

/**
 * Tag balance of an XML document (a structural check next to resvg's strict parse): every start
 * tag is closed in order, attributes are quoted.
 */
export function xmlBalanced(s: string): boolean {
  const stack: string[] = [];
  const re = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"]*")*)\s*(\/?)>/g;
  const stripped = s.replace(/<\?xml[^>]*\?>/, '').replace(/<!--[\s\S]*?-->/g, '');
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(stripped))) {
    consumed += m[0].length;
    if (m[1]) {
      if (stack.pop() !== m[2]) return false;
    } else if (!m[4]) stack.push(m[2]);
  }
  const tags = count(stripped, /</g);
  return stack.length === 0 && tags === count(stripped, /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"]*")*)\s*(\/?)>/g) && consumed > 0;
}
