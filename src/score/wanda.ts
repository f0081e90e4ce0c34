/**
 * Wanda score (Sun et al. 2024, "A Simple and Effective Pruning Approach for LLMs"; used for
 * safety by Wei et al. 2024): for a linear layer y = W x with W of shape [rows, cols],
 *
 *   s_ij = |W_ij| · ‖X_j‖₂
 *
 * where X is the layer's input over the calibration tokens (response tokens only) and ‖X_j‖₂ the
 * L2 norm of input feature j over those tokens. `InputNormAccumulator` builds ‖X_j‖₂ from batches
 * of activations; `wandaScore` scores any row-major chunk of W that starts at element `start`.
 */

export function wandaScore(w: Float32Array, colNorms: Float32Array, start = 0, out: Float32Array = new Float32Array(w.length)): Float32Array {
  const cols = colNorms.length;
  if (cols === 0) throw new RangeError('wandaScore: no input-feature norms');
  let j = start % cols;
  for (let i = 0; i < w.length; i++) {
    out[i] = Math.abs(w[i]) * colNorms[j];
    if (++j === cols) j = 0;
  }
  return out;
}

/** ‖X_j‖₂ = sqrt(Σ_t X_tj²), accumulated over [tokens, cols] row-major activation batches. */
export class InputNormAccumulator {
  private readonly sq: Float64Array;
  private tokens = 0;

  constructor(readonly cols: number) {
    this.sq = new Float64Array(cols);
  }

  get count(): number {
    return this.tokens;
  }

  add(x: Float32Array): void {
    const c = this.cols;
    if (x.length % c !== 0) throw new RangeError(`InputNormAccumulator: ${x.length} values are not whole rows of ${c}`);
    const sq = this.sq;
    for (let t = 0; t < x.length; t += c) {
      for (let j = 0; j < c; j++) {
        const v = x[t + j];
        sq[j] += v * v;
      }
    }
    this.tokens += x.length / c;
  }

  norms(out: Float32Array = new Float32Array(this.cols)): Float32Array {
    for (let j = 0; j < this.cols; j++) out[j] = Math.sqrt(this.sq[j]);
    return out;
  }
}
