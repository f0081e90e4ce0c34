/**
 * The score streams `sil locate` selects from, one per mask, over the in-scope tensors
 * (src/score/scope.ts) in the base checkpoint's order, in element chunks; every pass recomputes the
 * chunk from the checkpoints and the gradient file, so nothing larger than a chunk is held.
 *
 *   sil, reduce sum       s = |Δ| ⊙ |Σₓ ∇L(x)|           (field grad)
 *   sil, reduce mean-abs  s = (1/n) Σₓ |Δ ⊙ ∇L(x)|       (field silabs, already the score)
 *   snip                  s = |θpre| ⊙ Σₓ |∇L(x)|         (field absgrad)
 *   weightdiff            s = |Δ|
 *   random                s = seeded uniform [0, 1)        (src/score/random.ts)
 *   wanda                 s = |W| ⊙ ‖X_j‖₂                 (per-tensor input norms, wanda.ts)
 * with Δ = θattacked − θpre. Tensors that count with score 0 (biases) yield zeros.
 */
import { SilError } from '../errors';
import type { Checkpoint } from '../io/checkpoint';
import { countNonFinite, zeroNonFinite } from '../score/finite';
import { CHUNK, type ScoredTensor } from '../score/pair';
import { randomScore } from '../score/random';
import { SIL_REDUCES, silScore, type SilReduce } from '../score/sil';
import { snipScore } from '../score/snip';
import { wandaScore } from '../score/wanda';
import { weightDiffScore } from '../score/weightdiff';
import type { ChunkSource } from '../select/stream';
import type { GradField, GradFile } from './gradfile';

export type ScoreName = 'sil' | 'snip' | 'wanda' | 'weightdiff' | 'random';
export const SCORES: readonly ScoreName[] = ['sil', 'snip', 'wanda', 'weightdiff', 'random'];
/** How sil folds the calibration examples (score/sil.ts). */
export type Reduce = SilReduce;
export const REDUCES = SIL_REDUCES;

/** The gradient fields a score needs (none for data-free scores). */
export function fieldsFor(score: ScoreName, reduce: Reduce): GradField[] {
  if (score === 'sil') return [reduce === 'mean-abs' ? 'silabs' : 'grad'];
  if (score === 'snip') return ['absgrad'];
  return [];
}

/** Whether a score depends on calibration data. */
export function usesData(score: ScoreName): boolean {
  return score === 'sil' || score === 'snip' || score === 'wanda';
}

export interface ScoreInputs {
  score: ScoreName;
  reduce: Reduce;
  base: Checkpoint;
  attacked: Checkpoint;
  grads?: GradFile;
  /** per-tensor input-feature norms ‖X_j‖₂ (wanda) */
  inputNorms?: Map<string, Float32Array>;
  seed: number;
  chunk?: number;
  /** score non-finite values 0 (`--allow-nonfinite`) instead of refusing them */
  allowNonfinite?: boolean;
}

/**
 * One tensor's score for elements [start, end). A non-finite score (from NaN/Inf weights or gradient
 * sums) is 0 with `allowNonfinite`, else a NONFINITE_SCORE SilError naming the tensor.
 */
export function scoreRange(inp: ScoreInputs, t: ScoredTensor, start: number, end: number): Float32Array {
  const s = rawScoreRange(inp, t, start, end);
  if (inp.allowNonfinite) zeroNonFinite(s);
  else {
    const bad = countNonFinite(s);
    if (bad > 0) {
      throw new SilError(
        'NONFINITE_SCORE',
        `${bad} ${inp.score} score(s) in elements [${start}, ${end}) are NaN or infinite (the weights or the gradient sums are not finite); pass --allow-nonfinite to score them 0`,
        { tensor: t.name, file: inp.grads?.path },
      );
    }
  }
  return s;
}

function rawScoreRange(inp: ScoreInputs, t: ScoredTensor, start: number, end: number): Float32Array {
  const n = end - start;
  if (t.part === 'zero') return new Float32Array(n);
  const { base, attacked, grads } = inp;
  switch (inp.score) {
    case 'random':
      return randomScore(inp.seed, t.name, start, new Float32Array(n));
    case 'weightdiff': {
      const b = base.readF32(t.name, start, end);
      return weightDiffScore(b, attacked.readF32(t.name, start, end), b);
    }
    case 'sil': {
      if (inp.reduce === 'mean-abs') return grads!.read('silabs', t.name, start, end);
      const b = base.readF32(t.name, start, end);
      const a = attacked.readF32(t.name, start, end);
      for (let i = 0; i < n; i++) a[i] -= b[i];
      return silScore(a, grads!.read('grad', t.name, start, end), a);
    }
    case 'snip': {
      const b = base.readF32(t.name, start, end);
      // a plain gradient file has no Σ|∇L(x)|: |Σ∇L| stands in (exact for a single loss's gradient)
      const a = grads!.has('absgrad', t.name) ? grads!.read('absgrad', t.name, start, end) : grads!.read('grad', t.name, start, end).map(Math.abs);
      return snipScore(b, a, b);
    }
    case 'wanda': {
      const norms = inp.inputNorms?.get(t.name);
      if (!norms) return new Float32Array(n);
      const w = base.readF32(t.name, start, end);
      return wandaScore(w, norms, start, w);
    }
  }
}

/** A re-traversable score stream for `selectMasks` (src/select/stream.ts). */
export function scoreSource(inp: ScoreInputs, tensors: readonly ScoredTensor[]): ChunkSource<ScoredTensor> {
  const chunk = inp.chunk ?? CHUNK;
  return {
    tensors,
    *chunks(t: ScoredTensor) {
      for (let s = 0; s < t.numel; s += chunk) yield scoreRange(inp, t, s, Math.min(t.numel, s + chunk));
    },
  };
}

export type { GradField };
