/**
 * Layer-streamed loss and gradients: the whole model never sits on the backend at once.
 *
 *   forward   h₀ = E[ids] (rows read from the checkpoint), h_{l+1} = layer_l(h_l), keeping only the
 *             boundary states h_0 … h_L; each layer's weights are read (BF16/F16 → f32), uploaded,
 *             used and released, unless the weight cache keeps them for the backward pass
 *   head      loss and ∂h_L over vocabulary chunks (head.ts), final-norm VJP
 *   backward  for l = L−1 … 0: reload layer l, recompute its forward from h_l, VJP with the
 *             upstream ∂h_{l+1} (`decoderLayerVJP`) → ∂h_l and ∂θ_l, handed to the sink and freed
 *   embedding ∂E[v] = Σ_{n: ids[n]=v} ∂h₀[n] (+ the head's ∂W for tied embeddings), by chunks
 *
 * Gradients reach the sink as (name, first element, data) pieces: whole tensors for layers and the
 * final norm, row chunks for the embedding and lm_head. Every read to the host is async
 * (`await t.data()`), which WebGPU requires; while the sink consumes layer l's gradients the backend
 * is already computing layer l−1's. With a `deviceSink` the gradients stay on the backend instead
 * (handed over as tensors, e.g. to sums kept there across passes); only the embedding's rows, which
 * are gathered on the host, still reach `sink`.
 *
 * Passes that share one `StreamWeights` (option `weights`) upload the cached layers and head once.
 */
import * as tf from '@tensorflow/tfjs';
import { SilError } from '../errors';
import type { AttentionContext } from '../model/attention';
import { type Batch, type PreparedBatch, prepareBatch, slicePrepared } from '../model/batch';
import { checkSequenceLength, type ModelConfig } from '../model/config';
import { decoderLayer, decoderLayerVJP } from '../model/layer';
import { disposeContext, headWeightName, makeContext } from '../model/model';
import { EMBED, FINAL_NORM, layerParamNames, LM_HEAD } from '../model/names';
import { modelOps } from '../model/ops';
import { chunkInputGrad, chunkLogitGrad, ChunkedLse, chunkWeightGrad, type HeadChunk, validWeights } from './head';
import { planStreaming, type StreamPlan, type StreamPlanOptions } from './plan';
import { type RangedSource, StreamWeights } from './weights';

export type { RangedSource } from './weights';

/** Receives elements [start, start + data.length) of tensor `name`; each piece arrives once. */
export type GradSink = (name: string, start: number, data: Float32Array) => void | Promise<void>;

/**
 * Receives elements [start, start + size) of tensor `name` as a tensor on the backend (flat, or in
 * the parameter's shape), and owns it from then on.
 */
export type DeviceGradSink = (name: string, start: number, grad: tf.Tensor) => void | Promise<void>;

export interface StreamOptions extends StreamPlanOptions {
  /** divides the summed token losses (default: the batch's labelled positions; 1 gives ∇ of the sum) */
  denominator?: number;
  /** called with the plan before any work */
  onPlan?: (plan: StreamPlan) => void;
  /**
   * seconds per stage, filled in when given; the backend is then synchronised after every stage
   * (slower overall, but each stage's own time is measured)
   */
  profile?: Record<string, number>;
  /** called with the loss once the forward pass is done, before the first gradient reaches the sink */
  onLoss?: (loss: number, count: number) => void | Promise<void>;
  /** gradients computed on the backend go here, as tensors, instead of being read back to `sink` */
  deviceSink?: DeviceGradSink;
  /** weights shared between passes (the caller disposes them); the plan's cached layers and head stay uploaded */
  weights?: StreamWeights;
  /**
   * with `deviceSink` and an untied embedding: the embedding's gradient as its non-zero rows only
   * (`rows` ascending, `data` rows.length × hidden), instead of dense vocabulary chunks to `sink`
   */
  rowSink?: (name: string, rows: Int32Array, data: Float32Array) => void | Promise<void>;
  /** called after each of the pass's `streamSteps(cfg)` steps: every layer forward, the head, every layer backward, the embedding */
  onStep?: () => void;
}

/** Steps of one streamed pass, as `onStep` counts them: 2 per decoder layer, the head and the embedding. */
export function streamSteps(cfg: ModelConfig): number {
  return 2 * cfg.numLayers + 2;
}

export interface StreamResult {
  loss: number;
  count: number;
  plan: StreamPlan;
  /** seconds in the forward (incl. loss) and backward passes */
  forwardSeconds: number;
  backwardSeconds: number;
}

const now = () => Number(process.hrtime.bigint()) / 1e9;

/** h₀ rows E[ids[n]], read row by row from the source (the embedding is never loaded whole). */
function embedRows(src: RangedSource, ids: Int32Array, hidden: number): Float32Array {
  const h0 = new Float32Array(ids.length * hidden);
  const seen = new Map<number, number>();
  for (let n = 0; n < ids.length; n++) {
    const first = seen.get(ids[n]);
    if (first !== undefined) h0.copyWithin(n * hidden, first * hidden, (first + 1) * hidden);
    else {
      h0.set(src.readF32(EMBED, ids[n] * hidden, (ids[n] + 1) * hidden), n * hidden);
      seen.set(ids[n], n);
    }
  }
  return h0;
}

/** Reads every tensor of `grads` (async), hands it to the sink, frees it; or hands the tensors to `device`. */
async function drain(grads: Map<string, tf.Tensor>, sink: GradSink, device?: DeviceGradSink): Promise<void> {
  const left = new Map(grads);
  try {
    for (const [name, g] of grads) {
      left.delete(name);
      if (device) {
        await device(name, 0, g);
        continue;
      }
      const data = (await g.data()) as Float32Array;
      g.dispose();
      await sink(name, 0, data);
    }
  } finally {
    tf.dispose([...left.values()]);
  }
}

/** Hidden states kept between the forward and backward passes, one slot per (layer, group). */
class Boundaries {
  private readonly items: Array<{ x: tf.Tensor2D | Float32Array; shape: [number, number] } | null>;
  constructor(
    n: number,
    private readonly where: 'host' | 'device',
  ) {
    this.items = new Array(n).fill(null);
  }
  async put(i: number, t: tf.Tensor2D): Promise<void> {
    if (this.where === 'device') this.items[i] = { x: t, shape: t.shape };
    else {
      this.items[i] = { x: (await t.data()) as Float32Array, shape: t.shape };
      t.dispose();
    }
  }
  /** the state as a tensor (the caller disposes it); the slot is emptied */
  take(i: number): tf.Tensor2D {
    const e = this.items[i];
    this.items[i] = null;
    if (e === null) throw new Error(`boundary ${i} was already taken`);
    return ArrayBuffer.isView(e.x) ? tf.tensor2d(e.x, e.shape) : e.x;
  }
  dispose(): void {
    for (const e of this.items) if (e && !ArrayBuffer.isView(e.x)) e.x.dispose();
  }
}

/** Sequences that go through each layer together: their slice of the batch and attention context. */
interface Group {
  pb: PreparedBatch;
  ctx: AttentionContext;
  /** tokens, and the first token's row in the whole batch */
  n: number;
  row0: number;
}

/** a + b, both disposed (a may be null: b is returned) */
function addInto(a: tf.Tensor | null, b: tf.Tensor): tf.Tensor {
  if (a === null) return b;
  const s = tf.add(a, b);
  tf.dispose([a, b]);
  return s;
}

/**
 * Loss and every parameter's gradient of `batch`, layer-streamed from `src`; gradients go to
 * `sink` keyed by checkpoint tensor names. Runs on the current TF.js backend.
 *
 * With `sequencesPerGroup` below the batch size each layer (and each head chunk) takes the batch a
 * group of sequences at a time while its weights are loaded: the weights are read once per pass
 * whatever the group size, and each tensor's gradient reaches the sink once, summed over the groups
 * (on the host for host boundaries, i.e. the CPU backends, so the backend holds one group's
 * gradients at a time; on the backend otherwise).
 */
export async function streamedGradients(cfg: ModelConfig, source: RangedSource, batch: Batch | PreparedBatch, userSink: GradSink, o: StreamOptions = {}): Promise<StreamResult> {
  const prof = o.profile;
  const tick = async (stage: string, t: number, sync?: tf.Tensor): Promise<void> => {
    if (!prof) return;
    if (sync) await tf.tidy(() => tf.slice(tf.reshape(sync, [-1]), 0, 1)).data();
    prof[stage] = (prof[stage] ?? 0) + now() - t;
  };
  const src: RangedSource = prof
    ? {
        readF32: (name, start, end) => {
          const t = now();
          const x = source.readF32(name, start, end);
          prof.read = (prof.read ?? 0) + now() - t;
          return x;
        },
        readBytes: source.readBytes
          ? (name, start, end) => {
              const t = now();
              const x = source.readBytes!(name, start, end);
              prof.read = (prof.read ?? 0) + now() - t;
              return x;
            }
          : undefined,
        info: source.info ? (name) => source.info!(name) : undefined,
      }
    : source;
  const sink: GradSink = prof
    ? async (name, start, data) => {
        const t = now();
        await userSink(name, start, data);
        prof.sink = (prof.sink ?? 0) + now() - t;
      }
    : userSink;
  const pb = 'ids' in batch ? batch : prepareBatch(batch, cfg.vocabSize);
  checkSequenceLength(cfg, pb.seqLen);
  const denom = o.denominator ?? pb.count;
  if (pb.count <= 0 || !(denom > 0)) throw new SilError('INVALID_DATA', 'batch has no position with a label (labels are all −100 after the causal shift)');
  const plan = planStreaming(cfg, pb.batch, pb.seqLen, o);
  o.onPlan?.(plan);
  const L = cfg.numLayers;
  const H = cfg.hiddenSize;
  const N = pb.batch * pb.seqLen;
  const V = cfg.vocabSize;
  const C = plan.vocabChunk;
  const headName = headWeightName(cfg);
  const per = plan.groupTokens / pb.seqLen;
  const groups: Group[] = [];
  const shared = o.weights !== undefined;
  const w = o.weights ?? new StreamWeights(cfg, src);
  const device = o.deviceSink;
  /** several groups' layer gradients summed on the host (CPU backends: the backend holds one group's at a time) */
  const sumOnHost = plan.groups > 1 && plan.boundaries === 'host' && !device;
  const bnd = new Boundaries((L + 1) * Math.ceil(pb.batch / per), plan.boundaries);
  const cached = (i: number) => i < plan.cachedLayers;
  /** after the backward pass, only layers kept for later passes stay */
  const keepAfter = (i: number) => shared && cached(i);
  const headChunk = (name: string, r0: number, r1: number): HeadChunk => ({ r0, w: w.rows(name, r0, r1, H, plan.cachedHead) });
  const freeChunk = (c: HeadChunk) => {
    if (!plan.cachedHead) c.w.dispose();
  };
  const live: tf.Tensor[] = [];
  try {
    for (let lo = 0; lo < pb.batch; lo += per) {
      const g = per >= pb.batch ? pb : slicePrepared(pb, lo, Math.min(pb.batch, lo + per));
      // a group without labels contributes neither loss nor gradient
      if (g.count > 0) groups.push({ pb: g, ctx: makeContext(cfg, g), n: g.batch * g.seqLen, row0: lo * pb.seqLen });
    }
    const G = groups.length;
    // ── forward ──────────────────────────────────────────────────────────────
    const t0 = now();
    const hs = groups.map((g) => tf.tensor2d(embedRows(src, g.pb.ids, H), [g.n, H]));
    live.push(...hs);
    for (let i = 0; i < L; i++) {
      const names = layerParamNames(cfg, i);
      let t = now();
      w.loadNames(names);
      await tick('upload', t, w.get(names[names.length - 1]));
      for (let k = 0; k < G; k++) {
        t = now();
        const hi = hs[k];
        const next = tf.tidy(() => decoderLayer(hi, i, w, cfg, groups[k].ctx)) as tf.Tensor2D;
        live.push(next);
        await tick('forward', t, next);
        await bnd.put(i * G + k, hi);
        hs[k] = next;
      }
      if (!cached(i)) w.release(names);
      o.onStep?.();
    }
    const hLs = hs;
    w.loadNames([FINAL_NORM]);
    const wNorm = w.get(FINAL_NORM);
    const hns = hLs.map((hL) => tf.tidy(() => modelOps().rmsNorm(hL, wNorm, cfg.rmsNormEps)) as tf.Tensor2D);
    live.push(...hns);
    let th = now();
    const lseAcc = groups.map((g) => new ChunkedLse(g.n));
    for (let r0 = 0; r0 < V; r0 += C) {
      const c = headChunk(headName, r0, Math.min(V, r0 + C));
      groups.forEach((g, k) => lseAcc[k].add(hns[k], c, g.pb.targets));
      freeChunk(c);
    }
    const lses: tf.Tensor1D[] = [];
    let loss = 0;
    for (let k = 0; k < G; k++) {
      const r = await lseAcc[k].finish(groups[k].pb.targets, denom);
      live.push(r.lse);
      lses.push(r.lse);
      loss += r.loss;
    }
    await tick('head', th);
    const t1 = now();
    await o.onLoss?.(loss, pb.count);
    o.onStep?.();

    // ── head backward ────────────────────────────────────────────────────────
    th = now();
    const scales = groups.map((g) => validWeights(g.pb.targets, denom));
    live.push(...scales);
    const dhns = groups.map((g) => tf.zeros([g.n, H]) as tf.Tensor2D);
    live.push(...dhns);
    for (let r0 = 0; r0 < V; r0 += C) {
      const c = headChunk(headName, r0, Math.min(V, r0 + C));
      let dw: tf.Tensor | null = null;
      for (let k = 0; k < G; k++) {
        const dz = chunkLogitGrad(hns[k], c, lses[k], groups[k].pb.targets, scales[k]);
        const prev = dhns[k];
        dhns[k] = tf.tidy(() => tf.add(prev, chunkInputGrad(dz, c))) as tf.Tensor2D;
        live.push(dhns[k]);
        tf.dispose([prev]);
        if (!cfg.tieWordEmbeddings) dw = addInto(dw, chunkWeightGrad(dz, hns[k]));
        tf.dispose([dz]);
      }
      freeChunk(c);
      if (dw) {
        if (device) await device(LM_HEAD, r0 * H, dw);
        else {
          const data = (await dw.data()) as Float32Array;
          dw.dispose();
          await sink(LM_HEAD, r0 * H, data);
        }
      }
    }
    // tidy: the tape's own intermediates go; the two gradients are returned and kept
    const dys: tf.Tensor[] = [];
    let dNorm: tf.Tensor | null = null;
    for (let k = 0; k < G; k++) {
      const [dh, dn] = tf.tidy(() => tf.grads((x: tf.Tensor, g: tf.Tensor) => modelOps().rmsNorm(x, g, cfg.rmsNormEps))([hLs[k], wNorm], dhns[k]));
      tf.dispose([dhns[k]]);
      live.push(dh);
      dys.push(dh);
      dNorm = addInto(dNorm, dn);
    }
    if (!shared) w.release([FINAL_NORM]);
    await drain(new Map([[FINAL_NORM, dNorm!]]), sink, device);
    await tick('head', th);

    // ── decoder layers, last to first ────────────────────────────────────────
    let pending: Promise<void> = Promise.resolve();
    for (let i = L - 1; i >= 0; i--) {
      const names = layerParamNames(cfg, i);
      let t = now();
      w.loadNames(names);
      await tick('upload', t, w.get(names[names.length - 1]));
      const onDevice = new Map<string, tf.Tensor>();
      const onHost = new Map<string, Float32Array>();
      for (let k = 0; k < G; k++) {
        t = now();
        const hi = bnd.take(i * G + k);
        const out = decoderLayerVJP(hi, dys[k], i, w, cfg, groups[k].ctx);
        live.push(out.dh);
        await tick('vjp', t, out.dh);
        tf.dispose([hi, dys[k]]);
        dys[k] = out.dh;
        if (sumOnHost) {
          t = now();
          await drain(out.grads, (n, _start, data) => {
            const acc = onHost.get(n);
            if (!acc) onHost.set(n, data);
            else for (let j = 0; j < data.length; j++) acc[j] += data[j];
          });
          await tick('drain', t);
        } else for (const [n, g] of out.grads) onDevice.set(n, addInto(onDevice.get(n) ?? null, g));
      }
      if (!keepAfter(i)) w.release(names);
      t = now();
      await pending; // the sink finishes layer i+1 while the backend computes layer i
      pending = onHost.size > 0 ? sinkAll(onHost, sink) : drain(onDevice, sink, device);
      if (prof) await pending;
      await tick('drain', t);
      o.onStep?.();
    }
    await pending;
    const te = now();
    const dh0 = new Float32Array(N * H); // rows of sequences without labels stay 0
    for (let k = 0; k < G; k++) {
      dh0.set((await dys[k].data()) as Float32Array, groups[k].row0 * H);
      dys[k].dispose();
    }

    // ── embedding (and the tied head's gradient), by vocabulary chunks ───────
    if (device && o.rowSink && !cfg.tieWordEmbeddings) {
      const rows = Int32Array.from(new Set(pb.ids)).sort();
      const at = new Map<number, number>();
      rows.forEach((v, k) => at.set(v, k));
      const g = new Float32Array(rows.length * H);
      for (let n = 0; n < N; n++) {
        const dst = at.get(pb.ids[n])! * H;
        const s = n * H;
        for (let j = 0; j < H; j++) g[dst + j] += dh0[s + j];
      }
      await o.rowSink(EMBED, rows, g);
    } else
      for (let r0 = 0; r0 < V; r0 += C) {
        const r1 = Math.min(V, r0 + C);
        let dw: tf.Tensor | null = null;
        if (cfg.tieWordEmbeddings) {
          const c = headChunk(EMBED, r0, r1);
          for (let k = 0; k < G; k++) {
            const dz = chunkLogitGrad(hns[k], c, lses[k], groups[k].pb.targets, scales[k]);
            dw = addInto(dw, chunkWeightGrad(dz, hns[k]));
            tf.dispose([dz]);
          }
          freeChunk(c);
        }
        // rows gathered on the host: ∂E[v] += ∂h₀[n] for every position n with ids[n] = v
        const g = dw && !device ? ((await dw.data()) as Float32Array) : new Float32Array((r1 - r0) * H);
        if (dw && !device) dw.dispose();
        for (let n = 0; n < N; n++) {
          const v = pb.ids[n];
          if (v < r0 || v >= r1) continue;
          const dst = (v - r0) * H;
          const s = n * H;
          for (let j = 0; j < H; j++) g[dst + j] += dh0[s + j];
        }
        if (dw && device) {
          const d = dw;
          await device(
            EMBED,
            r0 * H,
            tf.tidy(() => tf.add(d, tf.tensor2d(g, [r1 - r0, H]))),
          );
          d.dispose();
        } else await sink(EMBED, r0 * H, g);
      }
    await tick('embedding', te);
    o.onStep?.();
    const t2 = now();
    return { loss, count: pb.count, plan, forwardSeconds: t1 - t0, backwardSeconds: t2 - t1 };
  } finally {
    tf.dispose(live);
    bnd.dispose();
    if (!shared) w.dispose();
    else for (let i = plan.cachedLayers; i < L; i++) w.release(layerParamNames(cfg, i));
    for (const g of groups) disposeContext(g.ctx);
  }
}

/** Hands every host gradient to the sink, whole, in order. */
async function sinkAll(grads: Map<string, Float32Array>, sink: GradSink): Promise<void> {
  for (const [name, data] of grads) await sink(name, 0, data);
}

/**
 * A sink that assembles pieces into whole tensors and hands each, once complete, to `done`
 * (for consumers that want whole gradients, e.g. `sil locate`'s sums).
 */
export function wholeTensors(sizes: (name: string) => number, done: (name: string, grad: Float32Array) => void | Promise<void>): GradSink {
  const open = new Map<string, { buf: Float32Array; filled: number }>();
  return async (name, start, data) => {
    const total = sizes(name);
    if (start === 0 && data.length === total) return done(name, data);
    let e = open.get(name);
    if (!e) open.set(name, (e = { buf: new Float32Array(total), filled: 0 }));
    e.buf.set(data, start);
    e.filled += data.length;
    if (e.filled === total) {
      open.delete(name);
      await done(name, e.buf);
    }
  };
}
