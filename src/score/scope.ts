/**
 * Which tensors a score covers. Scopes (Poppi et al. 2025 §3):
 *
 * - `linear`: the projection matrices of the decoder layers (q, k, v, o, gate, up, down) — the
 *   paper's text. A projection is a family tensor with both a `rows` and a `cols` axis, neither of
 *   them the vocabulary. Biases of those projections are in scope too.
 * - `all`: every stored tensor — embeddings, norms, head, biases (the reference code).
 *
 * Biases score 0 but count in the total N (so k = round(frac·N) includes them); `biases: 'score'`
 * scores them like any other tensor instead (e.g. plain |Δ| over every tensor). The tied
 * head is never listed twice: callers iterate `Checkpoint.names()`, which lists stored tensors only.
 * Everything is decided from the family data (`describeTensor`), never from name patterns; tensors
 * of an unknown family are `other` and in scope only under `all`.
 */
import { describeTensor, type TensorRole } from '../families';

export type Scope = 'linear' | 'all';
export const SCOPES: readonly Scope[] = ['linear', 'all'];

/** How a tensor takes part in scoring: `score` (computed), `zero` (counted, score 0), `out` (not counted). */
export type Participation = 'score' | 'zero' | 'out';

/** A family tensor with both axes, neither the vocabulary: q/k/v/o/gate/up/down. */
export function isProjection(role: TensorRole): boolean {
  return role.rows !== null && role.cols !== null && role.rows !== 'vocab' && role.cols !== 'vocab';
}

/** A bias, from the family's module kind (`q_bias`, …). */
export function isBias(role: TensorRole): boolean {
  return role.kind.endsWith('_bias');
}

export type BiasRule = 'zero' | 'score';

export function participation(architecture: string | null | undefined, name: string, scope: Scope, biases: BiasRule = 'zero'): Participation {
  const role = describeTensor(architecture, name);
  if (isBias(role)) return scope === 'all' || role.family !== null ? (biases === 'score' ? 'score' : 'zero') : 'out';
  if (scope === 'all') return 'score';
  return isProjection(role) ? 'score' : 'out';
}
