/**
 * AdamW (Loshchilov & Hutter 2019) over float32 master weights in plain typed arrays, as PyTorch's
 * `torch.optim.AdamW` (decoupled weight decay, bias-corrected moments). At step t ≥ 1, per entry:
 *   θ ← θ − lr · λ · θ
 *   m ← β₁ m + (1 − β₁) g          v ← β₂ v + (1 − β₂) g²
 *   θ ← θ − lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)
 * Entries where `frozen` is 1 are skipped entirely: their gradient counts as zero and neither the
 * update nor the weight decay touches them, so they stay bit-exactly unchanged (and their moments
 * stay 0).
 */
export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const ADAMW_DEFAULTS: AdamWOptions = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

export interface AdamWState {
  m: Float32Array;
  v: Float32Array;
}

export function adamwState(n: number): AdamWState {
  return { m: new Float32Array(n), v: new Float32Array(n) };
}

/** One AdamW update of `param` in place; `t` is the 1-based step number. */
export function adamwStep(param: Float32Array, grad: Float32Array, state: AdamWState, t: number, lr: number, o: AdamWOptions, frozen?: Uint8Array): void {
  const { m, v } = state;
  const bc1 = 1 - Math.pow(o.beta1, t);
  const bc2 = 1 - Math.pow(o.beta2, t);
  const decay = 1 - lr * o.weightDecay;
  for (let i = 0; i < param.length; i++) {
    if (frozen && frozen[i]) continue;
    const g = grad[i];
    const mi = (m[i] = o.beta1 * m[i] + (1 - o.beta1) * g);
    const vi = (v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g);
    param[i] = param[i] * decay - (lr * (mi / bc1)) / (Math.sqrt(vi / bc2) + o.eps);
  }
}

/** Sets the gradient of every frozen entry to zero. */
export function maskGrad(grad: Float32Array, frozen: Uint8Array): void {
  for (let i = 0; i < grad.length; i++) if (frozen[i]) grad[i] = 0;
}

/** ‖g‖₂ over several arrays (float64 accumulation). */
export function globalNorm(grads: Iterable<Float32Array>): number {
  let s = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  return Math.sqrt(s);
}
