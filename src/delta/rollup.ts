/**
 * Roll-ups of per-tensor deltas: per layer × module kind, per kind, per layer, and in total.
 * Sums (L1, ‖Δ‖², ‖W‖², counts) add; max|Δ| takes the max; L2, mean|Δ|, rel_l2 and frac_changed
 * are recomputed from the sums (so rel_l2 of a group is ‖Δ_group‖₂ / ‖W_group‖₂, not a mean of ratios).
 */
import { kindOrder } from '../families';
import { type DeltaStats, finalize, mergeAccum, newAccum } from './stats';
import type { TensorDelta } from './compute';

export interface LayerKindRow extends DeltaStats {
  layer: number | null;
  kind: string;
}
export interface KindRow extends DeltaStats {
  kind: string;
}
export interface LayerRow extends DeltaStats {
  layer: number;
}

function group<K>(tensors: TensorDelta[], key: (t: TensorDelta) => K, id: (k: K) => string): Array<{ key: K; stats: DeltaStats }> {
  const m = new Map<string, { key: K; acc: ReturnType<typeof newAccum> }>();
  for (const t of tensors) {
    const k = key(t);
    const s = id(k);
    let g = m.get(s);
    if (!g) m.set(s, (g = { key: k, acc: newAccum() }));
    mergeAccum(g.acc, t.acc);
  }
  return [...m.values()].map((g) => ({ key: g.key, stats: finalize(g.acc) }));
}

/** One row per (layer, kind), in the order the tensors come (see `orderTensors`). */
export function byLayerKind(tensors: TensorDelta[]): LayerKindRow[] {
  return group(
    tensors,
    (t) => ({ layer: t.layer, kind: t.kind }),
    (k) => `${k.layer ?? ''}|${k.kind}`,
  ).map((g) => ({ ...g.key, ...g.stats }));
}

/** One row per module kind, in the family's kind order. */
export function byKind(tensors: TensorDelta[], architecture: string | null): KindRow[] {
  const rows = group(
    tensors,
    (t) => t.kind,
    (k) => k,
  ).map((g) => ({ kind: g.key, ...g.stats }));
  const order = kindOrder(
    architecture,
    rows.map((r) => r.kind),
  );
  return rows.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
}

/** One row per decoder layer (all its tensors together), by layer index. */
export function byLayer(tensors: TensorDelta[]): LayerRow[] {
  return group(
    tensors.filter((t) => t.layer !== null),
    (t) => t.layer as number,
    (k) => String(k),
  )
    .map((g) => ({ layer: g.key, ...g.stats }))
    .sort((a, b) => a.layer - b.layer);
}

export function total(tensors: TensorDelta[]): DeltaStats {
  const acc = newAccum();
  for (const t of tensors) mergeAccum(acc, t.acc);
  return finalize(acc);
}

/** The `n` rows with the largest relative change ‖Δ‖₂/‖W‖₂ (ties: larger L2 first). */
export function topBy<T extends DeltaStats>(rows: T[], n: number): T[] {
  return [...rows].sort((a, b) => b.rel_l2 - a.rel_l2 || b.l2 - a.l2).slice(0, n);
}
