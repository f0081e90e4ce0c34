/**
 * SIL score (Poppi et al. 2025, "Towards Understanding the Fragility of Multilingual LLMs against
 * Fine-Tuning Attacks"), with Δ = θattacked − θpre and L(x) = −log p(response | prompt) at θpre:
 *
 *   sum-abs  (default, what the reference code computes):  s = |Δ| ⊙ |Σₓ ∇L(x)|
 *   mean-abs (the paper's formula):                        s = (1/n) Σₓ |Δ ⊙ ∇L(x)|
 *
 * (`sil locate --reduce`.) `sum-abs` needs only the gradient summed over the calibration examples; `mean-abs` needs each
 * example's gradient, folded in one at a time by `MeanAbsSilAccumulator`. All functions work on
 * one chunk (element range) of one tensor at a time.
 */

export type SilReduce = 'sum-abs' | 'mean-abs';
export const SIL_REDUCES: readonly SilReduce[] = ['sum-abs', 'mean-abs'];

/** s = |Δ| ⊙ |g|, with g = Σₓ ∇L(x). */
export function silScore(delta: Float32Array, gradSum: Float32Array, out: Float32Array = new Float32Array(delta.length)): Float32Array {
  if (gradSum.length !== delta.length) throw new RangeError(`silScore: ${delta.length} Δ vs ${gradSum.length} gradient values`);
  for (let i = 0; i < delta.length; i++) out[i] = Math.abs(delta[i] * gradSum[i]);
  return out;
}

/** Δ = attacked − base (float32, as the scores use it). */
export function deltaOf(base: Float32Array, attacked: Float32Array, out: Float32Array = new Float32Array(base.length)): Float32Array {
  if (attacked.length !== base.length) throw new RangeError(`deltaOf: ${base.length} base vs ${attacked.length} attacked values`);
  for (let i = 0; i < base.length; i++) out[i] = attacked[i] - base[i];
  return out;
}

/**
 * Streams s = (1/n) Σₓ |Δ ⊙ ∇L(x)| over examples for one chunk: `add(gradOfOneExample)` per
 * example, `result()` at the end. The running sum is kept in float64 so the order of examples
 * changes the result by at most one float32 rounding.
 */
export class MeanAbsSilAccumulator {
  private readonly sum: Float64Array;
  private n = 0;

  constructor(private readonly delta: Float32Array) {
    this.sum = new Float64Array(delta.length);
  }

  get count(): number {
    return this.n;
  }

  add(grad: Float32Array): void {
    const d = this.delta;
    if (grad.length !== d.length) throw new RangeError(`MeanAbsSilAccumulator: ${d.length} Δ vs ${grad.length} gradient values`);
    const s = this.sum;
    for (let i = 0; i < d.length; i++) s[i] += Math.abs(d[i] * grad[i]);
    this.n++;
  }

  result(out: Float32Array = new Float32Array(this.delta.length)): Float32Array {
    if (this.n === 0) throw new RangeError('MeanAbsSilAccumulator: no examples were added');
    const s = this.sum;
    for (let i = 0; i < s.length; i++) out[i] = s[i] / this.n;
    return out;
  }
}
