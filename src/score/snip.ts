/**
 * SNIP score (Wei et al. 2024, "Assessing the Brittleness of Safety Alignment via Pruning and
 * Low-Rank Modifications", after Lee et al. 2019):
 *
 *   s = |θpre| ⊙ Σₓ |∇L(x)|
 *
 * The sum of per-example absolute gradients is built with `AbsGradAccumulator`. For a single
 * example (or a batch whose loss is one sum) it is |θ ⊙ ∇L| — the fixtures' `snip/<name>`.
 */

/** s = |θ| ⊙ a, with a = Σₓ |∇L(x)|. */
export function snipScore(theta: Float32Array, absGradSum: Float32Array, out: Float32Array = new Float32Array(theta.length)): Float32Array {
  if (absGradSum.length !== theta.length) throw new RangeError(`snipScore: ${theta.length} θ vs ${absGradSum.length} gradient values`);
  for (let i = 0; i < theta.length; i++) out[i] = Math.abs(theta[i] * absGradSum[i]);
  return out;
}

/**
 * Per-example gradient sums for one chunk: `sum` = Σₓ ∇L(x) (for sil) and `absSum` = Σₓ |∇L(x)|
 * (for snip), both in float64 while accumulating.
 */
export class AbsGradAccumulator {
  private readonly s: Float64Array;
  private readonly a: Float64Array;
  private n = 0;

  constructor(readonly length: number) {
    this.s = new Float64Array(length);
    this.a = new Float64Array(length);
  }

  get count(): number {
    return this.n;
  }

  add(grad: Float32Array): void {
    if (grad.length !== this.length) throw new RangeError(`AbsGradAccumulator: expected ${this.length} gradient values, got ${grad.length}`);
    const s = this.s;
    const a = this.a;
    for (let i = 0; i < grad.length; i++) {
      const g = grad[i];
      s[i] += g;
      a[i] += Math.abs(g);
    }
    this.n++;
  }

  /** Σₓ ∇L(x) */
  sum(out: Float32Array = new Float32Array(this.length)): Float32Array {
    for (let i = 0; i < this.length; i++) out[i] = this.s[i];
    return out;
  }

  /** Σₓ |∇L(x)| */
  absSum(out: Float32Array = new Float32Array(this.length)): Float32Array {
    for (let i = 0; i < this.length; i++) out[i] = this.a[i];
    return out;
  }
}
