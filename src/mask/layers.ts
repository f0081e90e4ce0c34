/**
 * Per layer × module kind aggregation (the score columns of layers.csv, io/layers-csv.ts and
 * docs/run-folder.md): for cell c,
 *   numel, score_mass = Σ_{i∈c} s_i, score_share = score_mass / Σ_all s,
 *   selected = Σ_{i∈c} γ_i, selected_fraction = selected / numel.
 */

export interface LayerRow {
  lang: string;
  layer: number | null;
  kind: string;
  numel: number;
  score_mass: number;
  score_share: number;
  selected: number;
  selected_fraction: number;
}

interface Cell {
  layer: number | null;
  kind: string;
  numel: number;
  mass: number;
  selected: number;
}

export class LayerAccumulator {
  private readonly cells = new Map<string, Cell>();
  private total = 0;

  /** Adds a chunk of tensor scores (and mask) to the cell (layer, kind). */
  add(layer: number | null, kind: string, scores: Float32Array, mask: Uint8Array): void {
    if (mask.length !== scores.length) throw new RangeError(`LayerAccumulator: ${scores.length} scores vs ${mask.length} mask entries`);
    const key = `${layer ?? ''}\u0000${kind}`;
    let c = this.cells.get(key);
    if (!c) this.cells.set(key, (c = { layer, kind, numel: 0, mass: 0, selected: 0 }));
    let m = 0;
    let s = 0;
    for (let i = 0; i < scores.length; i++) {
      m += scores[i];
      s += mask[i];
    }
    c.numel += scores.length;
    c.mass += m;
    c.selected += s;
    this.total += m;
  }

  /**
   * Rows ordered: non-layer cells whose kind comes first in `kindOrder` (embed), then layers
   * ascending, then the remaining non-layer cells (final norm, head); kinds by `kindOrder`.
   */
  rows(lang: string, kindOrder: readonly string[] = []): LayerRow[] {
    const rank = (k: string) => {
      const i = kindOrder.indexOf(k);
      return i < 0 ? kindOrder.length : i;
    };
    const cells = [...this.cells.values()];
    const firstLayered = Math.min(...cells.filter((c) => c.layer !== null).map((c) => rank(c.kind)), Infinity);
    const bucket = (c: Cell) => (c.layer !== null ? 1 : rank(c.kind) < firstLayered ? 0 : 2);
    cells.sort((a, b) => bucket(a) - bucket(b) || (a.layer ?? 0) - (b.layer ?? 0) || rank(a.kind) - rank(b.kind) || (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0));
    return cells.map((c) => ({
      lang,
      layer: c.layer,
      kind: c.kind,
      numel: c.numel,
      score_mass: c.mass,
      score_share: this.total > 0 ? c.mass / this.total : 0,
      selected: c.selected,
      selected_fraction: c.numel > 0 ? c.selected / c.numel : 0,
    }));
  }
}
