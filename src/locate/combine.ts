/**
 * Masks across languages, streamed from the written mask files in element chunks:
 * - ∩ (the language-agnostic set) and ∪ over the language masks, written as mask files;
 * - overlap.csv: SIR / IoU / cosine for every ordered pair of named masks (src/mask/overlap.ts),
 *   the diagonal included; SIR(a, b) = |a ∩ b| / |a|.
 */
import { intersectAll, unionAll } from '../mask/algebra';
import { type MaskEncoding, MaskWriter, withMaskFiles } from '../mask/maskfile';
import { overlapMetrics, type PairCounts, PoolOverlap } from '../mask/overlap';
import { countAnd, countOnes } from '../mask/words';

const RANGE = 1 << 24;

function* ranges(n: number): Generator<[number, number]> {
  for (let s = 0; s < n; s += RANGE) yield [s, Math.min(n, s + RANGE)];
  if (n === 0) yield [0, 0];
}

/** Writes ⋂ and ⋃ of `inputs` (same layout) to `interFile` / `unionFile`; returns their sizes and the global SIR. */
export function intersectionAndUnion(
  inputs: readonly string[],
  interFile: string,
  unionFile: string,
  encoding: MaskEncoding,
  metadata: Record<string, string>,
): { intersection: number; union: number; globalSir: number } {
  return withMaskFiles(inputs, (files) => {
    const tensors = files[0].names().map((name) => ({ name, shape: files[0].shape(name) }));
    const wi = new MaskWriter(interFile, tensors, encoding, { ...metadata, mask: 'intersection' });
    const wu = new MaskWriter(unionFile, tensors, encoding, { ...metadata, mask: 'union' });
    const pool = new PoolOverlap();
    let inter = 0;
    let union = 0;
    try {
      for (const t of tensors) {
        const n = t.shape.reduce((a, b) => a * b, 1);
        const di = new Uint8Array(n);
        const du = new Uint8Array(n);
        for (const [s, e] of ranges(n)) {
          const parts = files.map((f) => f.readRange(t.name, s, e));
          const i = intersectAll(parts);
          const u = unionAll(parts);
          di.set(i, s);
          du.set(u, s);
          pool.add(parts);
          inter += countOnes(i);
          union += countOnes(u);
        }
        wi.write(t.name, di);
        wu.write(t.name, du);
      }
      wi.close();
      wu.close();
    } catch (e) {
      wi.abort();
      wu.abort();
      throw e;
    }
    return { intersection: inter, union, globalSir: pool.sir() };
  });
}

export interface OverlapRow {
  a: string;
  b: string;
  sir: number;
  iou: number;
  cosine: number;
}

export const OVERLAP_COLUMNS = ['a', 'b', 'sir', 'iou', 'cosine'] as const;

/** Every ordered pair (diagonal included) of the named masks. */
export function pairwiseOverlap(masks: ReadonlyArray<{ name: string; file: string }>): OverlapRow[] {
  return withMaskFiles(
    masks.map((m) => m.file),
    (files) => {
      const m = files.length;
      const size = new Float64Array(m);
      const inter = new Float64Array(m * m);
      for (const name of files[0].names()) {
        const n = files[0].shape(name).reduce((a, b) => a * b, 1);
        for (const [s, e] of ranges(n)) {
          const parts = files.map((f) => f.readRange(name, s, e));
          for (let x = 0; x < m; x++) {
            size[x] += countOnes(parts[x]);
            for (let y = x + 1; y < m; y++) inter[x * m + y] += countAnd(parts[x], parts[y]);
          }
        }
      }
      const rows: OverlapRow[] = [];
      for (let x = 0; x < m; x++) {
        for (let y = 0; y < m; y++) {
          const i = x === y ? size[x] : inter[Math.min(x, y) * m + Math.max(x, y)];
          const c: PairCounts = { a: size[x], b: size[y], inter: i, union: size[x] + size[y] - i };
          rows.push({ a: masks[x].name, b: masks[y].name, ...overlapMetrics(c) });
        }
      }
      return rows;
    },
  );
}
