/**
 * One decoder layer's forward and vector–Jacobian product written out for the cuda backend (llm.c
 * style): direct kernel launches and cuBLAS products, without TF.js op dispatch or the tape (whose
 * bookkeeping cost ≈ 10 ms of host time per 8B-shaped layer, more than the GPU's work). Pre-norm
 * Llama block without biases (the model falls back to the tape otherwise):
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
 *
 * The forward can keep what the backward reads (`KeptLayer`: x, q, k, v, P, merge(O), h₁, x₂, g, u, m
 * and the norms' 1/rms), so that the VJP does not recompute it; without it the VJP recomputes the
 * forward from h. Under bf16 products the tensors that the backward reads only as product operands
 * are kept as their bfloat16 copies alone (`keptLayerBytes`, precision.ts, counts them). A weight
 * gradient can be added in place into a float32 sum (`into`: cuBLAS's β = 1), saving the separate
 * add and the gradient's own buffer.
 */
import * as tf from '@tensorflow/tfjs';
import { type CudaBackend } from './backend';
import { type Arg, f32, type GemmRequest, i32, i64, ptr } from './device';
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

/** What the backward reads of the forward (besides the input h). */
interface ForwardState {
  x: Info;
  r1: Info;
  q: Info;
  k: Info;
  v: Info;
  pr: Info;
  merged: Info;
  h1: Info;
  r2: Info;
  x2: Info;
  gt: Info;
  up: Info;
  m: Info;
}

/** One layer's forward state kept on the device for its VJP; the holder disposes it. */
export class KeptLayer {
  constructor(
    private readonly b: CudaBackend,
    readonly state: ForwardState,
  ) {}

  /** device bytes held */
  bytes(): number {
    return Object.values(this.state).reduce((a, t) => a + this.b.deviceBytes(t.dataId), 0);
  }

  dispose(): void {
    for (const t of Object.values(this.state)) this.b.disposeData(t.dataId);
  }
}

/** The launches and products of one layer over one batch shape (shared by the forward and the VJP). */
class LayerKernels {
  readonly b = tf.backend() as CudaBackend;
  readonly d = this.b.device;
  readonly N: number;
  private readonly bf: boolean;

  constructor(
    readonly s: LayerShape,
    private readonly cos: tf.Tensor,
    private readonly sin: tf.Tensor,
    readonly mask: tf.Tensor,
  ) {
    this.N = s.batch * s.seqLen;
    this.bf = productsReadHalves(this.b.precision);
  }

  out(shape: number[], list?: Info[]): Info {
    const t = this.b.makeOutput(shape, 'float32');
    list?.push(t);
    return t;
  }

  /** an output read later only as a product operand: bfloat16 halves alone under bf16 products (float32 otherwise) */
  operand(shape: number[], list?: Info[]): Info {
    if (!this.bf) return this.out(shape, list);
    const t = this.b.makeHalfOutput(shape);
    list?.push(t);
    return t;
  }

  /** an output read both by float32 kernels and as a product operand: float32, with a bfloat16 copy under bf16 products */
  both(shape: number[], list?: Info[]): Info {
    const t = this.out(shape, list);
    if (this.bf) this.b.attachHalf(t);
    return t;
  }

  /** a kernel's output addresses: its float32 words and its bfloat16 copy (each 0 when absent) */
  dst(y: Info): [Arg, Arg] {
    return [ptr(this.b.wordsIfAny(y)), ptr(this.b.halfIfAny(y))];
  }

  free(list: Info[]): void {
    for (const t of list) this.b.disposeData(t.dataId);
    list.length = 0;
  }

  P = (t: Info | tf.Tensor): number => this.b.ptr(t as Info);
  op = (t: Info | tf.Tensor): number => (this.bf ? this.b.halfPtr(t as Info) : this.b.ptr(t as Info));

  gemm(g: Omit<GemmRequest, 'precision' | 'batch' | 'strideA' | 'strideB' | 'strideC'> & Partial<GemmRequest>): void {
    this.d.gemm({ batch: 1, strideA: 0, strideB: 0, strideC: 0, precision: this.b.precision, ...g });
  }

  /** y [N, out] = x [N, in] Wᵀ */
  linear(x: Info | tf.Tensor, wt: tf.Tensor, y: Info, nOut: number, nIn: number): void {
    this.gemm({ a: this.op(x), b: this.op(wt), c: this.P(y), m: this.N, n: nOut, k: nIn, transA: false, transB: true });
  }

  /** dx [N, in] (+)= dy [N, out] W */
  linearDx(g: Info, wt: tf.Tensor, dx: Info, nOut: number, nIn: number, beta: number): void {
    this.gemm({ a: this.op(g), b: this.op(wt), c: this.P(dx), m: this.N, n: nIn, k: nOut, transA: false, transB: false, beta });
  }

  /** dW [out, in] = dyᵀ x, or added into `into` (a float32 sum) */
  linearDw(g: Info, x: Info, into: tf.Tensor | undefined, nOut: number, nIn: number): Info | null {
    const dw = into ? null : this.out([nOut, nIn]);
    const c = into ? this.b.mutablePtr(into as unknown as Info) : this.P(dw!);
    this.gemm({ a: this.op(g), b: this.op(x), c, m: nOut, n: nIn, k: this.N, transA: true, transB: false, beta: into ? 1 : 0 });
    return dw;
  }

  private rows(): number {
    return Math.max(1, Math.min(this.N, 65535 * 8));
  }

  norm(x: Info | tf.Tensor, wt: tf.Tensor, y: Info, r: Info): void {
    const [yf, yh] = this.dst(y);
    this.d.launch('rms_norm', this.rows(), BLOCK, [ptr(this.P(x)), ptr(this.P(wt)), yf, ptr(this.P(r)), i64(this.N), i32(this.s.hidden), f32(this.s.eps), yh]);
  }

  /** dx = rmsnorm′(∂y); the weight's gradient returned, or added into `into` */
  normGrad(x: Info | tf.Tensor, wt: tf.Tensor, g: Info, r: Info, dx: Info, into: tf.Tensor | undefined): Info | null {
    const { N, d } = this;
    const H = this.s.hidden;
    d.launch('rms_norm_grad', this.rows(), BLOCK, [ptr(this.P(x)), ptr(this.P(wt)), ptr(this.P(g)), ptr(this.P(r)), ptr(this.P(dx)), i64(N), i32(H)]);
    const dw = into ? null : this.out([H]);
    const target = into ? this.b.mutablePtr(into as unknown as Info) : this.P(dw!);
    const chunks = Math.max(1, Math.min(128, Math.ceil(N / 32)));
    const part = d.alloc(chunks * H * 4);
    try {
      d.launch('rms_norm_dw_parts', d.gridFor(chunks * H), BLOCK, [ptr(this.P(g)), ptr(this.P(x)), ptr(this.P(r)), ptr(part), i64(N), i32(H), i32(chunks)]);
      d.launch('col_sum', d.gridFor(H), BLOCK, [ptr(part), ptr(target), i32(chunks), i32(H), i32(into ? 1 : 0)]);
    } finally {
      d.release(part);
    }
    return dw;
  }

  add(a: Info | tf.Tensor, c: Info | tf.Tensor, y: Info): void {
    const n = numel(y.shape);
    const [yf, yh] = this.dst(y);
    this.d.launch('add_same', this.d.gridFor(n), BLOCK, [ptr(this.P(a)), ptr(this.P(c)), yf, i64(n), yh]);
  }

  heads(kernel: 'rope_split' | 'rope_merge', x: Info, y: Info, nHeads: number, rope: boolean): void {
    const { batch: B, seqLen: T, headDim: D } = this.s;
    const [yf, yh] = this.dst(y);
    this.d.launch(kernel, this.d.gridFor(this.N * nHeads * D), BLOCK, [
      ptr(this.P(x)),
      ptr(rope ? this.P(this.cos) : 0),
      ptr(rope ? this.P(this.sin) : 0),
      yf,
      i32(B),
      i32(T),
      i32(nHeads),
      i32(D),
      i32(rope ? 1 : 0),
      yh,
    ]);
  }

  warps(n: number): number {
    return Math.max(1, Math.min(Math.ceil(n / (BLOCK / 32)), 65535 * 8));
  }

  /** the grouped attention products' batch and strides (GQA: the rep query heads of kv head g are one matrix) */
  get groups(): { G: number; rep: number; qs: number; ks: number; ss: number } {
    const { batch: B, seqLen: T, heads: nh, kvHeads: nkv, headDim: D } = this.s;
    const rep = nh / nkv;
    return { G: B * nkv, rep, qs: rep * T * D, ks: T * D, ss: rep * T * T };
  }

  /**
   * The forward from h: the state the backward reads, and h' when `withOutput` (the VJP's recompute
   * needs no h'). Intermediates the backward does not read are freed on the way.
   */
  forward(h: tf.Tensor, w: LayerWeights, withOutput: boolean): { state: ForwardState; y: Info | null } {
    const { batch: B, seqLen: T, hidden: H, heads: nh, kvHeads: nkv, headDim: D, ffn: F } = this.s;
    const { N } = this;
    const { G, rep, qs, ks, ss } = this.groups;
    const state: Info[] = [];
    const scratch: Info[] = [];
    try {
      const x = this.operand([N, H], state);
      const r1 = this.out([N], state);
      this.norm(h, w.inNorm, x, r1);
      const q2 = this.out([N, nh * D], scratch);
      const k2 = this.out([N, nkv * D], scratch);
      const v2 = this.out([N, nkv * D], scratch);
      this.linear(x, w.q, q2, nh * D, H);
      this.linear(x, w.k, k2, nkv * D, H);
      this.linear(x, w.v, v2, nkv * D, H);
      const q = this.operand([B, nh, T, D], state);
      const k = this.operand([B, nkv, T, D], state);
      const v = this.operand([B, nkv, T, D], state);
      this.heads('rope_split', q2, q, nh, true);
      this.heads('rope_split', k2, k, nkv, true);
      this.heads('rope_split', v2, v, nkv, false);
      this.free(scratch);
      const sc = this.out([B, nh, T, T], scratch);
      this.gemm({ a: this.op(q), b: this.op(k), c: this.P(sc), m: rep * T, n: T, k: D, transA: false, transB: true, batch: G, strideA: qs, strideB: ks, strideC: ss });
      const pr = this.both([B, nh, T, T], state);
      const [pf, ph] = this.dst(pr);
      this.d.launch('masked_softmax', this.warps(B * nh * T), BLOCK, [ptr(this.P(sc)), ptr(this.P(this.mask)), pf, i64(B * nh * T), i32(T), i32(T), i32(nh), f32(1 / Math.sqrt(D)), ph]);
      this.free(scratch);
      const o4 = this.out([B, nh, T, D], scratch);
      this.gemm({ a: this.op(pr), b: this.op(v), c: this.P(o4), m: rep * T, n: D, k: T, transA: false, transB: false, batch: G, strideA: ss, strideB: ks, strideC: qs });
      const merged = this.operand([N, nh * D], state);
      this.heads('rope_merge', o4, merged, nh, false);
      this.free(scratch);
      const h1 = this.out([N, H], state);
      this.linear(merged, w.o, h1, H, nh * D);
      this.add(h, h1, h1);
      const x2 = this.operand([N, H], state);
      const r2 = this.out([N], state);
      this.norm(h1, w.postNorm, x2, r2);
      const gt = this.out([N, F], state);
      const up = this.out([N, F], state);
      this.linear(x2, w.gate, gt, F, H);
      this.linear(x2, w.up, up, F, H);
      const m = this.operand([N, F], state);
      const [mf, mh] = this.dst(m);
      this.d.launch('swiglu', this.d.gridFor(N * F), BLOCK, [ptr(this.P(gt)), ptr(this.P(up)), mf, i64(N * F), mh]);
      let y: Info | null = null;
      if (withOutput) {
        y = this.out([N, H]);
        this.linear(m, w.down, y, H, F);
        this.add(h1, y, y);
      }
      return { state: { x, r1, q, k, v, pr, merged, h1, r2, x2, gt, up, m }, y };
    } catch (e) {
      this.free(state);
      throw e;
    } finally {
      this.free(scratch);
    }
  }
}

const tensor = (i: Info): tf.Tensor => tf.engine().makeTensorFromTensorInfo(i);

/**
 * h' = layer(h) for input h [N, hidden]; rope tables cos, sin [T, D]; additive mask [B, 1, T, T].
 * With `keep`, also what the VJP reads (the caller disposes it, after `cudaLayerVJP` or instead).
 */
export function cudaLayerForward(h: tf.Tensor, w: LayerWeights, s: LayerShape, cos: tf.Tensor, sin: tf.Tensor, mask: tf.Tensor, keep: boolean): { y: tf.Tensor; kept: KeptLayer | null } {
  const k = new LayerKernels(s, cos, sin, mask);
  const { state, y } = k.forward(h, w, true);
  if (!keep) {
    k.free(Object.values(state));
    return { y: tensor(y!), kept: null };
  }
  // the product-only state (x, q, k, v, merge(O), x₂, m) was made as bfloat16 halves alone under bf16 (`operand`)
  return { y: tensor(y!), kept: new KeptLayer(k.b, state) };
}

export interface VJPOptions {
  /** the forward state kept by `cudaLayerForward` for this h (not disposed here); recomputed without it */
  kept?: KeptLayer | null;
  /** float32 sums to add a weight's gradient into in place (that weight is then left out of `grads`) */
  into?: Partial<LayerWeights>;
}

/**
 * ∂L/∂h and the gradient of every weight of the layer, for input h [N, hidden] and upstream gradient
 * dy [N, hidden]; rope tables cos, sin [T, D]; additive mask [B, 1, T, T]. The caller owns the
 * results; weights with a sum in `o.into` have their gradient added there instead.
 */
export function cudaLayerVJP(
  h: tf.Tensor,
  dy: tf.Tensor,
  w: LayerWeights,
  s: LayerShape,
  cos: tf.Tensor,
  sin: tf.Tensor,
  mask: tf.Tensor,
  o: VJPOptions = {},
): { dh: tf.Tensor; grads: Partial<LayerWeights> } {
  const kk = new LayerKernels(s, cos, sin, mask);
  const { seqLen: T, hidden: H, heads: nh, kvHeads: nkv, headDim: D, ffn: F, batch: B } = s;
  const { N } = kk;
  const { G, rep, qs, ks, ss } = kk.groups;
  const into = o.into ?? {};
  const temps: Info[] = [];
  const results: Info[] = [];
  const recomputed = o.kept ? null : kk.forward(h, w, false).state;
  if (recomputed) temps.push(...Object.values(recomputed));
  const st = o.kept?.state ?? recomputed!;
  const tmp = (shape: number[]) => kk.out(shape, temps);
  const grad = (t: Info | null): Info | null => {
    if (t) results.push(t);
    return t;
  };
  try {
    const dyI = dy as unknown as Info;
    const gDown = grad(kk.linearDw(dyI, st.m, into.down, H, F));
    const dm = tmp([N, F]);
    kk.linearDx(dyI, w.down, dm, H, F, 0);
    const dg = kk.operand([N, F], temps);
    const du = kk.operand([N, F], temps);
    const [dgf, dgh] = kk.dst(dg);
    const [duf, duh] = kk.dst(du);
    kk.d.launch('swiglu_grad', kk.d.gridFor(N * F), BLOCK, [ptr(kk.P(st.gt)), ptr(kk.P(st.up)), ptr(kk.P(dm)), dgf, duf, i64(N * F), dgh, duh]);
    const gGate = grad(kk.linearDw(dg, st.x2, into.gate, F, H));
    const gUp = grad(kk.linearDw(du, st.x2, into.up, F, H));
    const dx2 = tmp([N, H]);
    kk.linearDx(dg, w.gate, dx2, F, H, 0);
    kk.linearDx(du, w.up, dx2, F, H, 1);
    const dh1 = kk.both([N, H], temps);
    const gPost = grad(kk.normGrad(st.h1, w.postNorm, dx2, st.r2, dh1, into.postNorm));
    kk.add(dh1, dyI, dh1);
    const gO = grad(kk.linearDw(dh1, st.merged, into.o, H, nh * D));
    const dmerged = tmp([N, nh * D]);
    kk.linearDx(dh1, w.o, dmerged, H, nh * D, 0);
    const dO = kk.operand([B, nh, T, D], temps);
    kk.heads('rope_split', dmerged, dO, nh, false);
    const dP = tmp([B, nh, T, T]);
    kk.gemm({ a: kk.op(dO), b: kk.op(st.v), c: kk.P(dP), m: rep * T, n: T, k: D, transA: false, transB: true, batch: G, strideA: qs, strideB: ks, strideC: ss });
    const dv = tmp([B, nkv, T, D]);
    kk.gemm({ a: kk.op(st.pr), b: kk.op(dO), c: kk.P(dv), m: T, n: D, k: rep * T, transA: true, transB: false, batch: G, strideA: ss, strideB: qs, strideC: ks });
    const dS = kk.operand([B, nh, T, T], temps);
    const [dsf, dsh] = kk.dst(dS);
    kk.d.launch('masked_softmax_grad', kk.warps(B * nh * T), BLOCK, [ptr(kk.P(st.pr)), ptr(kk.P(dP)), dsf, i64(B * nh * T), i32(T), f32(1 / Math.sqrt(D)), dsh]);
    const dq = tmp([B, nh, T, D]);
    kk.gemm({ a: kk.op(dS), b: kk.op(st.k), c: kk.P(dq), m: rep * T, n: D, k: T, transA: false, transB: false, batch: G, strideA: ss, strideB: ks, strideC: qs });
    const dk = tmp([B, nkv, T, D]);
    kk.gemm({ a: kk.op(dS), b: kk.op(st.q), c: kk.P(dk), m: T, n: D, k: rep * T, transA: true, transB: false, batch: G, strideA: ss, strideB: qs, strideC: ks });
    const dq2 = kk.operand([N, nh * D], temps);
    const dk2 = kk.operand([N, nkv * D], temps);
    const dv2 = kk.operand([N, nkv * D], temps);
    kk.heads('rope_merge', dq, dq2, nh, true);
    kk.heads('rope_merge', dk, dk2, nkv, true);
    kk.heads('rope_merge', dv, dv2, nkv, false);
    const gQ = grad(kk.linearDw(dq2, st.x, into.q, nh * D, H));
    const gK = grad(kk.linearDw(dk2, st.x, into.k, nkv * D, H));
    const gV = grad(kk.linearDw(dv2, st.x, into.v, nkv * D, H));
    const dx = tmp([N, H]);
    kk.linearDx(dq2, w.q, dx, nh * D, H, 0);
    kk.linearDx(dk2, w.k, dx, nkv * D, H, 1);
    kk.linearDx(dv2, w.v, dx, nkv * D, H, 1);
    // ∂h with its bfloat16 copy: the layer below reads it as its dy, also as a product operand
    const dh = kk.both([N, H]);
    results.push(dh);
    const gIn = grad(kk.normGrad(h, w.inNorm, dx, st.r1, dh, into.inNorm));
    kk.add(dh, dh1, dh);
    const all: Record<keyof LayerWeights, Info | null> = { inNorm: gIn, postNorm: gPost, q: gQ, k: gK, v: gV, o: gO, gate: gGate, up: gUp, down: gDown };
    const grads: Partial<LayerWeights> = {};
    for (const key of Object.keys(all) as Array<keyof LayerWeights>) if (all[key]) grads[key] = tensor(all[key]!);
    results.length = 0;
    return { dh: tensor(dh), grads };
  } finally {
    kk.free(results);
    kk.free(temps);
  }
}
