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
import { Batch, PreparedBatch, prepareBatch } from '../model/batch';
import { checkSequenceLength, ModelConfig } from '../model/config';
import { decoderLayer, decoderLayerVJP } from '../model/layer';
import { disposeContext, headWeightName, makeContext } from '../model/model';
import { EMBED, FINAL_NORM, layerParamNames, LM_HEAD } from '../model/names';
import { rmsNorm } from '../model/norm';
import { chunkInputGrad, chunkLogitGrad, ChunkedLse, chunkWeightGrad, HeadChunk, validWeights } from './head';
import { planStreaming, StreamPlan, StreamPlanOptions } from './plan';
import { RangedSource, StreamWeights } from './weights';

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

class Boundaries {
  private readonly items: Array<tf.Tensor2D | Float32Array | null>;
  constructor(
    n: number,
    private readonly where: 'host' | 'device',
    private readonly shape: [number, number],
  ) {
    this.items = new Array(n).fill(null);
  }
  async put(i: number, t: tf.Tensor2D): Promise<void> {
    if (this.where === 'device') this.items[i] = t;
    else {
      this.items[i] = (await t.data()) as Float32Array;
      t.dispose();
    }
  }
  /** the state as a tensor (the caller disposes it); the slot is emptied */
  take(i: number): tf.Tensor2D {
    const x = this.items[i];
    this.items[i] = null;
    if (x === null) throw new Error(`boundary ${i} was already taken`);
    return x instanceof Float32Array ? tf.tensor2d(x, this.shape) : x;
  }
  dispose(): void {
    for (const x of this.items) if (x && !(x instanceof Float32Array)) x.dispose();
  }
}

/**
 * Loss and every parameter's gradient of `batch`, layer-streamed from `src`; gradients go to
 * `sink` keyed by checkpoint tensor names. Runs on the current TF.js backend.
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
  const ctx: AttentionContext = makeContext(cfg, pb);
  const shared = o.weights !== undefined;
  const w = o.weights ?? new StreamWeights(cfg, src);
  const bnd = new Boundaries(L + 1, plan.boundaries, [N, H]);
  const cached = (i: number) => i < plan.cachedLayers;
  /** after the backward pass, only layers kept for later passes stay */
  const keepAfter = (i: number) => shared && cached(i);
  const headChunk = (name: string, r0: number, r1: number): HeadChunk => ({ r0, w: w.rows(name, r0, r1, H, plan.cachedHead) });
  const freeChunk = (c: HeadChunk) => {
    if (!plan.cachedHead) c.w.dispose();
  };
  const device = o.deviceSink;
  const live: tf.Tensor[] = [];
  try {
    // ── forward ──────────────────────────────────────────────────────────────
    const t0 = now();
    let h = tf.tensor2d(embedRows(src, pb.ids, H), [N, H]);
    for (let i = 0; i < L; i++) {
      const names = layerParamNames(cfg, i);
      let t = now();
      w.loadNames(names);
      await tick('upload', t, w.get(names[names.length - 1]));
      t = now();
      const hi = h;
      const next = tf.tidy(() => decoderLayer(hi, i, w, cfg, ctx)) as tf.Tensor2D;
      await tick('forward', t, next);
      await bnd.put(i, hi);
      if (!cached(i)) w.release(names);
      h = next;
    }
    const hL = h;
    live.push(hL);
    w.loadNames([FINAL_NORM]);
    const wNorm = w.get(FINAL_NORM);
    const hn = tf.tidy(() => rmsNorm(hL, wNorm, cfg.rmsNormEps)) as tf.Tensor2D;
    live.push(hn);
    let th = now();
    const lseAcc = new ChunkedLse(N);
    for (let r0 = 0; r0 < V; r0 += C) {
      const c = headChunk(headName, r0, Math.min(V, r0 + C));
      lseAcc.add(hn, c, pb.targets);
      freeChunk(c);
    }
    const { lse, loss } = await lseAcc.finish(pb.targets, denom);
    live.push(lse);
    await tick('head', th);
    const t1 = now();
    await o.onLoss?.(loss, pb.count);

    // ── head backward ────────────────────────────────────────────────────────
    th = now();
    const scale = validWeights(pb.targets, denom);
    live.push(scale);
    let dhn = tf.zeros([N, H]) as tf.Tensor2D;
    for (let r0 = 0; r0 < V; r0 += C) {
      const c = headChunk(headName, r0, Math.min(V, r0 + C));
      const dz = chunkLogitGrad(hn, c, lse, pb.targets, scale);
      const acc = tf.tidy(() => tf.add(dhn, chunkInputGrad(dz, c))) as tf.Tensor2D;
      tf.dispose([dhn]);
      dhn = acc;
      if (!cfg.tieWordEmbeddings) {
        const dw = chunkWeightGrad(dz, hn);
        tf.dispose([dz]);
        freeChunk(c);
        if (device) await device(LM_HEAD, r0 * H, dw);
        else {
          const data = (await dw.data()) as Float32Array;
          dw.dispose();
          await sink(LM_HEAD, r0 * H, data);
        }
      } else {
        tf.dispose([dz]);
        freeChunk(c);
      }
    }
    // tidy: the tape's own intermediates go; the two gradients are returned and kept
    const [dh, dNorm] = tf.tidy(() => tf.grads((x: tf.Tensor, g: tf.Tensor) => rmsNorm(x, g, cfg.rmsNormEps))([hL, wNorm], dhn));
    tf.dispose([dhn]);
    if (!shared) w.release([FINAL_NORM]);
    await drain(new Map([[FINAL_NORM, dNorm]]), sink, device);
    await tick('head', th);

    // ── decoder layers, last to first ────────────────────────────────────────
    let dy: tf.Tensor = dh;
    let pending: Promise<void> = Promise.resolve();
    for (let i = L - 1; i >= 0; i--) {
      const names = layerParamNames(cfg, i);
      let t = now();
      w.loadNames(names);
      await tick('upload', t, w.get(names[names.length - 1]));
      t = now();
      const hi = bnd.take(i);
      const out = decoderLayerVJP(hi, dy, i, w, cfg, ctx);
      await tick('vjp', t, out.dh);
      tf.dispose([hi, dy]);
      if (!keepAfter(i)) w.release(names);
      dy = out.dh;
      t = now();
      await pending; // the sink finishes layer i+1 while the backend computes layer i
      pending = drain(out.grads, sink, device);
      if (prof) await pending;
      await tick('drain', t);
    }
    await pending;
    const te = now();
    const dh0 = (await dy.data()) as Float32Array;
    dy.dispose();

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
    } else for (let r0 = 0; r0 < V; r0 += C) {
      const r1 = Math.min(V, r0 + C);
      let dw: tf.Tensor | null = null;
      if (cfg.tieWordEmbeddings) {
        const c = headChunk(EMBED, r0, r1);
        const dz = chunkLogitGrad(hn, c, lse, pb.targets, scale);
        dw = chunkWeightGrad(dz, hn);
        tf.dispose([dz]);
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
        await device(EMBED, r0 * H, tf.tidy(() => tf.add(d, tf.tensor2d(g, [r1 - r0, H]))));
        d.dispose();
      } else await sink(EMBED, r0 * H, g);
    }
    await tick('embedding', te);
    const t2 = now();
    return { loss, count: pb.count, plan, forwardSeconds: t1 - t0, backwardSeconds: t2 - t1 };
  } finally {
    tf.dispose(live);
    bnd.dispose();
    if (!shared) w.dispose();
    else for (let i = plan.cachedLayers; i < L; i++) w.release(layerParamNames(cfg, i));
    disposeContext(ctx);
  }
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
