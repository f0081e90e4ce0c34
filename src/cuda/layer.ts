/**
 * One decoder layer's vector–Jacobian product written out for the cuda backend (llm.c style): the
 * recomputed forward and the backward as direct kernel launches and cuBLAS products, without the
 * TF.js tape (whose bookkeeping cost ≈ 10 ms of host time per 8B-shaped layer, more than the GPU's
 * work). Pre-norm Llama block without biases (the model falls back to the tape otherwise):
 *
 *   x  = rmsnorm(h; w_in)              q, k, v = x W_qᵀ, x W_kᵀ, x W_vᵀ, split into heads, RoPE on q, k
 *   P  = softmax(q kᵀ/√D + mask)       O = P v  (GQA: the rep query heads of kv head g are one matrix)
 *   h₁ = h + merge(O) W_oᵀ             x₂ = rmsnorm(h₁; w_post)
 *   g, u = x₂ W_gateᵀ, x₂ W_upᵀ        m = silu(g) ⊙ u          h' = h₁ + m W_downᵀ
 *
 * Backward, with ∂h' = dy:  ∂W_down = dyᵀ m, ∂m = dy W_down, (∂g, ∂u) = swiglu′, ∂W_gate = ∂gᵀ x₂,
 * ∂W_up = ∂uᵀ x₂, ∂x₂ = ∂g W_gate + ∂u W_up; ∂h₁ = dy + rmsnorm′(∂x₂); ∂W_o = ∂h₁ᵀ merge(O),
 * ∂O = split(∂h₁ W_o); ∂P = ∂O vᵀ, ∂v = Pᵀ ∂O, ∂S = softmax′ (scaled); ∂q = ∂S k, ∂k = ∂Sᵀ q (RoPE
 * transposed on the way back), ∂W_{q,k,v} = ∂{q,k,v}ᵀ x, ∂x = Σ ∂{q,k,v} W_{q,k,v}; ∂h = ∂h₁ + rmsnorm′(∂x).
 * The same kernels as the fused TF.js ops (fused.ts), the same products as `matMul` would run, so
 * it equals the tape's result up to the order of float32 sums (a test holds the two equal).
 */
import * as tf from '@tensorflow/tfjs';
import { type CudaBackend } from './backend';
import { f32, type GemmRequest, i32, i64, ptr } from './device';
import { productsReadHalves } from './precision';

type Info = tf.TensorInfo;

export interface LayerShape {
  batch: number;
  seqLen: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  ffn: number;
  eps: number;
}

export interface LayerWeights<T = tf.Tensor> {
  inNorm: T;
  postNorm: T;
  q: T;
  k: T;
  v: T;
  o: T;
  gate: T;
  up: T;
  down: T;
}

const BLOCK = 256;
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/**
 * ∂L/∂h and the gradient of every weight of the layer, for input h [N, hidden] and upstream gradient
 * dy [N, hidden]; rope tables cos, sin [T, D]; additive mask [B, 1, T, T]. The caller owns the results.
 */
export function cudaLayerVJP(h: tf.Tensor, dy: tf.Tensor, w: LayerWeights, s: LayerShape, cos: tf.Tensor, sin: tf.Tensor, mask: tf.Tensor): { dh: tf.Tensor; grads: LayerWeights } {
  const b = tf.backend() as CudaBackend;
  const d = b.device;
  const { batch: B, seqLen: T, hidden: H, heads: nh, kvHeads: nkv, headDim: D, ffn: F, eps } = s;
  const N = B * T;
  const rep = nh / nkv;
  const scale = 1 / Math.sqrt(D);
  const temps: Info[] = [];
  const tmp = (shape: number[]): Info => {
    const t = b.makeOutput(shape, 'float32');
    temps.push(t);
    return t;
  };
  const out = (shape: number[]): Info => b.makeOutput(shape, 'float32');
  const P = (t: Info | tf.Tensor) => b.ptr(t as Info);
  const bf = productsReadHalves(b.precision);
  const op = (t: Info | tf.Tensor) => (bf ? b.halfPtr(t as Info) : b.ptr(t as Info));
  const gemm = (g: Omit<GemmRequest, 'precision' | 'batch' | 'strideA' | 'strideB' | 'strideC'> & Partial<GemmRequest>) =>
    d.gemm({ batch: 1, strideA: 0, strideB: 0, strideC: 0, precision: b.precision, ...g });
  /** y [N, out] = x [N, in] Wᵀ */
  const linear = (x: Info | tf.Tensor, wt: tf.Tensor, y: Info, nOut: number, nIn: number) => gemm({ a: op(x), b: op(wt), c: P(y), m: N, n: nOut, k: nIn, transA: false, transB: true });
  /** dx [N, in] (+)= dy [N, out] W */
  const linearDx = (g: Info, wt: tf.Tensor, dx: Info, nOut: number, nIn: number, beta: number) => gemm({ a: op(g), b: op(wt), c: P(dx), m: N, n: nIn, k: nOut, transA: false, transB: false, beta });
  /** dW [out, in] = dyᵀ x */
  const linearDw = (g: Info, x: Info, dw: Info, nOut: number, nIn: number) => gemm({ a: op(g), b: op(x), c: P(dw), m: nOut, n: nIn, k: N, transA: true, transB: false });
  const rows = (n: number) => Math.max(1, Math.min(n, 65535 * 8));
  const norm = (x: Info | tf.Tensor, wt: tf.Tensor, y: Info, r: Info) => d.launch('rms_norm', rows(N), BLOCK, [ptr(P(x)), ptr(P(wt)), ptr(P(y)), ptr(P(r)), i64(N), i32(H), f32(eps)]);
  /** dx = rmsnorm′(∂y) (+ dw); then dx += res when given (the residual path) */
  const normGrad = (x: Info | tf.Tensor, wt: tf.Tensor, g: Info, r: Info, dx: Info, dw: Info) => {
    d.launch('rms_norm_grad', rows(N), BLOCK, [ptr(P(x)), ptr(P(wt)), ptr(P(g)), ptr(P(r)), ptr(P(dx)), i64(N), i32(H)]);
    const chunks = Math.max(1, Math.min(128, Math.ceil(N / 32)));
    const part = d.alloc(chunks * H * 4);
    try {
      d.launch('rms_norm_dw_parts', d.gridFor(chunks * H), BLOCK, [ptr(P(g)), ptr(P(x)), ptr(P(r)), ptr(part), i64(N), i32(H), i32(chunks)]);
      d.launch('col_sum', d.gridFor(H), BLOCK, [ptr(part), ptr(P(dw)), i32(chunks), i32(H)]);
    } finally {
      d.release(part);
    }
  };
  const add = (a: Info | tf.Tensor, c: Info, y: Info) => d.launch('add_same', d.gridFor(numel(y.shape)), BLOCK, [ptr(P(a)), ptr(P(c)), ptr(P(y)), i64(numel(y.shape))]);
  const heads = (kernel: 'rope_split' | 'rope_merge', x: Info, y: Info, H_: number, rope: boolean) =>
    d.launch(kernel, d.gridFor(N * H_ * D), BLOCK, [ptr(P(x)), ptr(rope ? P(cos) : 0), ptr(rope ? P(sin) : 0), ptr(P(y)), i32(B), i32(T), i32(H_), i32(D), i32(rope ? 1 : 0)]);
  const warps = (n: number) => Math.max(1, Math.min(Math.ceil(n / (BLOCK / 32)), 65535 * 8));
  const G = B * nkv;
  const qs = rep * T * D;
  const ks = T * D;
  const ss = rep * T * T;
  try {
    // ── forward (recomputed), keeping what the backward reads ──
    const x = tmp([N, H]);
    const r1 = tmp([N]);
    norm(h, w.inNorm, x, r1);
    const q2 = tmp([N, nh * D]);
    const k2 = tmp([N, nkv * D]);
    const v2 = tmp([N, nkv * D]);
    linear(x, w.q, q2, nh * D, H);
    linear(x, w.k, k2, nkv * D, H);
    linear(x, w.v, v2, nkv * D, H);
    const q = tmp([B, nh, T, D]);
    const k = tmp([B, nkv, T, D]);
    const v = tmp([B, nkv, T, D]);
    heads('rope_split', q2, q, nh, true);
    heads('rope_split', k2, k, nkv, true);
    heads('rope_split', v2, v, nkv, false);
    const sc = tmp([B, nh, T, T]);
    gemm({ a: op(q), b: op(k), c: P(sc), m: rep * T, n: T, k: D, transA: false, transB: true, batch: G, strideA: qs, strideB: ks, strideC: ss });
    const pr = tmp([B, nh, T, T]);
    d.launch('masked_softmax', warps(B * nh * T), BLOCK, [ptr(P(sc)), ptr(P(mask)), ptr(P(pr)), i64(B * nh * T), i32(T), i32(T), i32(nh), f32(scale)]);
    const o4 = tmp([B, nh, T, D]);
    gemm({ a: op(pr), b: op(v), c: P(o4), m: rep * T, n: D, k: T, transA: false, transB: false, batch: G, strideA: ss, strideB: ks, strideC: qs });
    const merged = tmp([N, nh * D]);
    heads('rope_merge', o4, merged, nh, false);
    const h1 = tmp([N, H]);
    linear(merged, w.o, h1, H, nh * D);
    add(h, h1, h1);
    const x2 = tmp([N, H]);
    const r2 = tmp([N]);
    norm(h1, w.postNorm, x2, r2);
    const gt = tmp([N, F]);
    const up = tmp([N, F]);
    linear(x2, w.gate, gt, F, H);
    linear(x2, w.up, up, F, H);
    const m = tmp([N, F]);
    d.launch('swiglu', d.gridFor(N * F), BLOCK, [ptr(P(gt)), ptr(P(up)), ptr(P(m)), i64(N * F)]);

    // ── backward ──
    const dyI = dy as unknown as Info;
    const gDown = out([H, F]);
    linearDw(dyI, m, gDown, H, F);
    const dm = tmp([N, F]);
    linearDx(dyI, w.down, dm, H, F, 0);
    const dg = tmp([N, F]);
    const du = tmp([N, F]);
    d.launch('swiglu_grad', d.gridFor(N * F), BLOCK, [ptr(P(gt)), ptr(P(up)), ptr(P(dm)), ptr(P(dg)), ptr(P(du)), i64(N * F)]);
    const gGate = out([F, H]);
    const gUp = out([F, H]);
    linearDw(dg, x2, gGate, F, H);
    linearDw(du, x2, gUp, F, H);
    const dx2 = tmp([N, H]);
    linearDx(dg, w.gate, dx2, F, H, 0);
    linearDx(du, w.up, dx2, F, H, 1);
    const dh1 = tmp([N, H]);
    const gPost = out([H]);
    normGrad(h1, w.postNorm, dx2, r2, dh1, gPost);
    add(dh1, dyI, dh1);
    const gO = out([H, nh * D]);
    linearDw(dh1, merged, gO, H, nh * D);
    const dmerged = tmp([N, nh * D]);
    linearDx(dh1, w.o, dmerged, H, nh * D, 0);
    const dO = tmp([B, nh, T, D]);
    heads('rope_split', dmerged, dO, nh, false);
    const dP = tmp([B, nh, T, T]);
    gemm({ a: op(dO), b: op(v), c: P(dP), m: rep * T, n: T, k: D, transA: false, transB: true, batch: G, strideA: qs, strideB: ks, strideC: ss });
    const dv = tmp([B, nkv, T, D]);
    gemm({ a: op(pr), b: op(dO), c: P(dv), m: T, n: D, k: rep * T, transA: true, transB: false, batch: G, strideA: ss, strideB: qs, strideC: ks });
    const dS = tmp([B, nh, T, T]);
    d.launch('masked_softmax_grad', warps(B * nh * T), BLOCK, [ptr(P(pr)), ptr(P(dP)), ptr(P(dS)), i64(B * nh * T), i32(T), f32(scale)]);
    const dq = tmp([B, nh, T, D]);
    gemm({ a: op(dS), b: op(k), c: P(dq), m: rep * T, n: D, k: T, transA: false, transB: false, batch: G, strideA: ss, strideB: ks, strideC: qs });
    const dk = tmp([B, nkv, T, D]);
    gemm({ a: op(dS), b: op(q), c: P(dk), m: T, n: D, k: rep * T, transA: true, transB: false, batch: G, strideA: ss, strideB: qs, strideC: ks });
    const dq2 = tmp([N, nh * D]);
    const dk2 = tmp([N, nkv * D]);
    const dv2 = tmp([N, nkv * D]);
    heads('rope_merge', dq, dq2, nh, true);
    heads('rope_merge', dk, dk2, nkv, true);
    heads('rope_merge', dv, dv2, nkv, false);
    const gQ = out([nh * D, H]);
    const gK = out([nkv * D, H]);
    const gV = out([nkv * D, H]);
    linearDw(dq2, x, gQ, nh * D, H);
    linearDw(dk2, x, gK, nkv * D, H);
    linearDw(dv2, x, gV, nkv * D, H);
    const dx = tmp([N, H]);
    linearDx(dq2, w.q, dx, nh * D, H, 0);
    linearDx(dk2, w.k, dx, nkv * D, H, 1);
    linearDx(dv2, w.v, dx, nkv * D, H, 1);
    const dh = out([N, H]);
    const gIn = out([H]);
    normGrad(h, w.inNorm, dx, r1, dh, gIn);
    add(dh, dh1, dh);
    const t = (i: Info) => tf.engine().makeTensorFromTensorInfo(i);
    return { dh: t(dh), grads: { inNorm: t(gIn), postNorm: t(gPost), q: t(gQ), k: t(gK), v: t(gV), o: t(gO), gate: t(gGate), up: t(gUp), down: t(gDown) } };
  } finally {
    for (const x of temps) b.disposeData(x.dataId);
  }
}
