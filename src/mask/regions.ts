/**
 * Ranked regions: score mass per structural unit of a tensor, and the share of the unit selected.
 *
 * Units come from the family data (`describeTensor(...).rows/cols`):
 * - attention head  — `head_dim` consecutive rows of q (`head`), of k/v (`kv_head`), or `head_dim`
 *   consecutive columns of o (`head`); q/k/v biases: `head_dim` consecutive entries;
 * - FFN neuron      — a row of gate/up, a column of down (`neuron`);
 * - `row`           — a row of the embedding or head (a token), or of any other 2-D tensor;
 * - `tensor`        — the whole tensor: norms and anything 1-D without heads or neurons.
 *
 * For unit u: score_mass(u) = Σ_{i∈u} s_i, selected_share(u) = Σ_{i∈u} γ_i / |u|.
 * `RegionAccumulator` takes a tensor in chunks (any element ranges, row-major).
 */
import { type AxisMeaning, type TensorRole } from '../families';

export type UnitKind = 'head' | 'kv_head' | 'neuron' | 'row' | 'tensor';

export interface UnitLayout {
  unit: UnitKind;
  /** which axis the units run along */
  axis: 'rows' | 'cols' | 'none';
  /** rows (or columns) per unit */
  span: number;
  /** number of units in the tensor */
  count: number;
  /** elements per unit */
  size: number;
}

const UNIT_OF: Partial<Record<AxisMeaning, UnitKind>> = { heads: 'head', kv_heads: 'kv_head', neurons: 'neuron' };

/** How a tensor of `shape` splits into units; `headDim` is the attention head size. */
export function unitLayout(role: Pick<TensorRole, 'rows' | 'cols'>, shape: readonly number[], headDim: number): UnitLayout {
  const rows = shape.length >= 1 ? shape[0] : 1;
  const numel = shape.reduce((a, b) => a * b, 1);
  const cols = rows > 0 ? numel / rows : 0;
  const spanOf = (m: AxisMeaning) => (m === 'neurons' ? 1 : headDim);
  const along = (axis: 'rows' | 'cols', m: AxisMeaning): UnitLayout | null => {
    const unit = UNIT_OF[m];
    if (!unit) return null;
    const len = axis === 'rows' ? rows : cols;
    const span = spanOf(m);
    if (!(span >= 1) || len % span !== 0) return null;
    return { unit, axis, span, count: len / span, size: axis === 'rows' ? span * cols : span * rows };
  };
  const byRows = role.rows ? along('rows', role.rows) : null;
  if (byRows) return byRows;
  const byCols = shape.length === 2 && role.cols ? along('cols', role.cols) : null;
  if (byCols) return byCols;
  if (shape.length >= 2) return { unit: 'row', axis: 'rows', span: 1, count: rows, size: cols };
  return { unit: 'tensor', axis: 'none', span: numel, count: 1, size: numel };
}

/** Streams per-unit score mass and selected count for one tensor. */
export class RegionAccumulator {
  readonly mass: Float64Array;
  readonly selected: Float64Array;
  private readonly cols: number;

  constructor(
    readonly layout: UnitLayout,
    shape: readonly number[],
  ) {
    const numel = shape.reduce((a, b) => a * b, 1);
    this.cols = shape.length >= 2 ? numel / shape[0] : numel;
    this.mass = new Float64Array(layout.count);
    this.selected = new Float64Array(layout.count);
  }

  /** Adds elements [start, start + scores.length) with their mask values. */
  add(start: number, scores: Float32Array, mask: Uint8Array): void {
    if (mask.length !== scores.length) throw new RangeError(`RegionAccumulator: ${scores.length} scores vs ${mask.length} mask entries`);
    const { axis, span } = this.layout;
    const cols = this.cols;
    const mass = this.mass;
    const sel = this.selected;
    if (axis === 'none') {
      let m = 0;
      let c = 0;
      for (let i = 0; i < scores.length; i++) {
        m += scores[i];
        c += mask[i];
      }
      mass[0] += m;
      sel[0] += c;
      return;
    }
    let col = start % cols;
    let row = (start - col) / cols;
    // runs of elements in one unit: the rest of a row (units of rows), or of a span of columns
    for (let i = 0; i < scores.length;) {
      const end = Math.min(scores.length, i + (axis === 'rows' ? cols - col : span - (col % span)));
      const u = axis === 'rows' ? Math.floor(row / span) : Math.floor(col / span);
      let m = 0;
      let c = 0;
      for (let j = i; j < end; j++) {
        m += scores[j];
        c += mask[j];
      }
      mass[u] += m;
      sel[u] += c;
      col += end - i;
      i = end;
      if (col === cols) {
        col = 0;
        row++;
      }
    }
  }
}

export interface RegionRow {
  rank: number;
  lang: string;
  tensor: string;
  layer: number | null;
  kind: string;
  unit: UnitKind;
  index: number;
  size: number;
  score_mass: number;
  selected_share: number;
}

export interface TensorRegions {
  tensor: string;
  layer: number | null;
  kind: string;
  acc: RegionAccumulator;
}

/**
 * All units of one language, ranked by score mass (descending; ties by tensor order, then unit
 * index), numbered from 1; `top` keeps the first `top` rows.
 */
export function rankRegions(lang: string, tensors: readonly TensorRegions[], top = Infinity): RegionRow[] {
  const rows: Array<Omit<RegionRow, 'rank'> & { order: number }> = [];
  tensors.forEach((t, order) => {
    const { layout } = t.acc;
    for (let u = 0; u < layout.count; u++) {
      rows.push({
        order,
        lang,
        tensor: t.tensor,
        layer: t.layer,
        kind: t.kind,
        unit: layout.unit,
        index: u,
        size: layout.size,
        score_mass: t.acc.mass[u],
        selected_share: layout.size > 0 ? t.acc.selected[u] / layout.size : 0,
      });
    }
  });
  rows.sort((a, b) => b.score_mass - a.score_mass || a.order - b.order || a.index - b.index);
  return rows.slice(0, Math.min(top, rows.length)).map(({ order: _order, ...r }, i) => ({ rank: i + 1, ...r }));
}

export const REGION_COLUMNS = ['rank', 'lang', 'tensor', 'layer', 'kind', 'unit', 'index', 'size', 'score_mass', 'selected_share'] as const;
