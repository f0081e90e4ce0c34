/**
 * Non-finite values (NaN, ±Inf) in a checkpoint pair. A gradient at NaN weights is meaningless and a
 * score of NaN cannot be ranked, so `sil locate` counts them before any work: per tensor, in θpre and
 * in Δ = θattacked − θpre (which is non-finite where either side is, or where the difference
 * overflows). `sil delta` only reports them (its NaN/Inf columns).
 */
import { SilError } from '../errors';
import type { Checkpoint } from '../io/checkpoint';
import { CHUNK } from './pair';

export interface NonFiniteCounts {
  /** tensor → non-finite elements of θpre (only tensors that have some) */
  thetaPre: Record<string, number>;
  /** tensor → non-finite elements of Δ */
  delta: Record<string, number>;
}

/** Non-finite entries of `x`. */
export function countNonFinite(x: Float32Array): number {
  let n = 0;
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) n++;
  return n;
}

/** Sets the non-finite entries of `x` to 0, in place; returns how many there were. */
export function zeroNonFinite(x: Float32Array): number {
  let n = 0;
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) {
      x[i] = 0;
      n++;
    }
  }
  return n;
}

/**
 * Counts non-finite elements of θpre over `thetaNames` and of Δ over `deltaNames`, reading each
 * tensor once in chunks (both lists from the base's names; a name in both is read once per side).
 */
export function scanNonFinite(base: Checkpoint, attacked: Checkpoint, thetaNames: readonly string[], deltaNames: readonly string[], chunk = CHUNK): NonFiniteCounts {
  const out: NonFiniteCounts = { thetaPre: {}, delta: {} };
  const inDelta = new Set(deltaNames);
  const names = [...new Set([...thetaNames, ...deltaNames])];
  const inTheta = new Set(thetaNames);
  for (const name of names) {
    const numel = base.info(name).numel;
    let nb = 0;
    let nd = 0;
    for (let s = 0; s < numel; s += chunk) {
      const e = Math.min(numel, s + chunk);
      const b = base.readF32(name, s, e);
      if (inTheta.has(name)) nb += countNonFinite(b);
      if (inDelta.has(name)) {
        const a = attacked.readF32(name, s, e);
        for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i] - b[i])) nd++;
      }
    }
    if (nb > 0) out.thetaPre[name] = nb;
    if (nd > 0) out.delta[name] = nd;
  }
  return out;
}

export function totalNonFinite(c: Record<string, number>): number {
  return Object.values(c).reduce((a, b) => a + b, 0);
}

/** NONFINITE_WEIGHTS naming the first tensor and the counts, or null when everything is finite. */
export function nonFiniteError(c: NonFiniteCounts, files: { base: string; attacked: string }): SilError | null {
  const [which, counts, file] = totalNonFinite(c.thetaPre) > 0 ? (['θpre', c.thetaPre, files.base] as const) : (['Δ = θattacked − θpre', c.delta, files.attacked] as const);
  const names = Object.keys(counts);
  if (names.length === 0) return null;
  const more = names.length > 1 ? ` (and ${names.length - 1} more tensor(s), ${totalNonFinite(counts)} elements in all)` : '';
  return new SilError('NONFINITE_WEIGHTS', `${counts[names[0]]} NaN/Inf element(s) in ${which}${more}; scores and gradients there are meaningless. Pass --allow-nonfinite to score those elements 0`, {
    file,
    tensor: names[0],
  });
}
