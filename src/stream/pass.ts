/**
 * The state one layer-streamed pass shares between its steps (forward.ts, headpass.ts,
 * backward.ts, embedding.ts): the prepared batch and its groups of sequences, the plan, the
 * weights, the hidden states kept at layer boundaries, where gradients go, and every tensor the
 * pass made (freed by `close`, whatever step failed).
 */
import * as tf from '@tensorflow/tfjs';
import type { AttentionContext } from '../model/attention';
import type { PreparedBatch } from '../model/batch';
import { slicePrepared } from '../model/batch';
import type { ModelConfig } from '../model/config';
import { disposeContext, makeContext } from '../model/model';
import type { KeptActivations } from '../model/ops';
import { layerParamNames } from '../model/names';
import type { HeadChunk } from './head';
import type { StreamPlan } from '../model/planner';
import { type RangedSource, StreamWeights } from './weights';

/** Receives elements [start, start + data.length) of tensor `name`; each piece arrives once. */
export type GradSink = (name: string, start: number, data: Float32Array) => void | Promise<void>;

/**
 * Receives elements [start, start + size) of tensor `name` as a tensor on the backend (flat, or in
 * the parameter's shape), and owns it from then on.
 */
export type DeviceGradSink = (name: string, start: number, grad: tf.Tensor) => void | Promise<void>;

/** Receives the embedding's gradient as its non-zero rows only (`rows` ascending, `data` rows.length × hidden). */
export type RowSink = (name: string, rows: Int32Array, data: Float32Array) => void | Promise<void>;

/** Hidden states kept between the forward and backward passes, one slot per (layer, group). */
export class Boundaries {
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
export interface Group {
  pb: PreparedBatch;
  ctx: AttentionContext;
  /** tokens, and the first token's row in the whole batch */
  n: number;
  row0: number;
}

export interface PassOptions {
  denominator: number;
  sink: GradSink;
  deviceSink?: DeviceGradSink;
  rowSink?: RowSink;
  /** float32 sums on the backend that a layer's weight gradients may be added into in place (see StreamOptions) */
  deviceSums?: (name: string) => tf.Tensor | undefined;
  /** the float32 sum on the backend that the embedding's gradient rows may be added into in place (see StreamOptions) */
  deviceRowSums?: (name: string) => tf.Tensor | undefined;
  /** weights shared between passes (the caller disposes them) */
  weights?: StreamWeights;
}

export class StreamPass {
  readonly groups: Group[] = [];
  readonly w: StreamWeights;
  /** whether the weights outlive the pass (shared between passes) */
  readonly shared: boolean;
  readonly bnd: Boundaries;
  /** forward state kept for the VJP, one slot per (layer, group) like the boundaries */
  readonly kept: Array<KeptActivations | null>;
  /** tensors the pass made; `close` frees those still alive */
  readonly live: tf.Tensor[] = [];
  readonly denom: number;
  readonly sink: GradSink;
  readonly device?: DeviceGradSink;
  readonly rowSink?: RowSink;
  readonly deviceSums?: (name: string) => tf.Tensor | undefined;
  readonly deviceRowSums?: (name: string) => tf.Tensor | undefined;
  /** several groups' layer gradients summed on the host (CPU backends: the backend holds one group's at a time) */
  readonly sumOnHost: boolean;

  constructor(
    readonly cfg: ModelConfig,
    readonly src: RangedSource,
    readonly pb: PreparedBatch,
    readonly plan: StreamPlan,
    o: PassOptions,
  ) {
    this.denom = o.denominator;
    this.sink = o.sink;
    this.device = o.deviceSink;
    this.rowSink = o.rowSink;
    this.deviceSums = o.deviceSums;
    this.deviceRowSums = o.deviceRowSums;
    this.shared = o.weights !== undefined;
    this.w = o.weights ?? new StreamWeights(cfg, src);
    this.sumOnHost = plan.groups > 1 && plan.boundaries === 'host' && !this.device;
    const per = plan.groupTokens / pb.seqLen;
    this.bnd = new Boundaries((cfg.numLayers + 1) * Math.ceil(pb.batch / per), plan.boundaries);
    this.kept = new Array(cfg.numLayers * Math.ceil(pb.batch / per)).fill(null);
    try {
      for (let lo = 0; lo < pb.batch; lo += per) {
        const g = per >= pb.batch ? pb : slicePrepared(pb, lo, Math.min(pb.batch, lo + per));
        // a group without labels contributes neither loss nor gradient
        if (g.count > 0) this.groups.push({ pb: g, ctx: makeContext(cfg, g), n: g.batch * g.seqLen, row0: lo * pb.seqLen });
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** whether layer i's weights stay uploaded from forward to backward */
  cached(i: number): boolean {
    return i < this.plan.cachedLayers;
  }

  /** whether layer i's forward keeps what its VJP reads (the plan's last `keptLayers` layers) */
  keeps(i: number): boolean {
    return i >= this.cfg.numLayers - this.plan.keptLayers;
  }

  /** the forward state kept in slot s (emptied; the caller disposes it), or null */
  takeKept(s: number): KeptActivations | null {
    const k = this.kept[s];
    this.kept[s] = null;
    return k;
  }

  /** whether layer i's weights stay uploaded after the backward pass (for later passes) */
  keepAfter(i: number): boolean {
    return this.shared && this.cached(i);
  }

  /** rows [r0, r1) of the head (or the tied embedding) on the backend; hand back with `freeChunk` */
  headChunk(name: string, r0: number, r1: number): HeadChunk {
    return { r0, w: this.w.rows(name, r0, r1, this.cfg.hiddenSize, this.plan.cachedHead) };
  }

  freeChunk(c: HeadChunk): void {
    if (!this.plan.cachedHead) c.w.dispose();
  }

  /** `t`, recorded to be freed by `close` */
  track<T extends tf.Tensor>(t: T): T {
    this.live.push(t);
    return t;
  }

  close(): void {
    tf.dispose(this.live);
    for (let s = 0; s < this.kept.length; s++) this.takeKept(s)?.dispose();
    this.bnd.dispose();
    if (!this.shared) this.w.dispose();
    else for (let i = this.plan.cachedLayers; i < this.cfg.numLayers; i++) this.w.release(layerParamNames(this.cfg, i));
    for (const g of this.groups) disposeContext(g.ctx);
  }
}

/** a + b, both disposed (a may be null: b is returned) */
export function addInto(a: tf.Tensor | null, b: tf.Tensor): tf.Tensor {
  if (a === null) return b;
  const s = tf.add(a, b);
  tf.dispose([a, b]);
  return s;
}

/** Reads every tensor of `grads` (async), hands it to the sink, frees it; or hands the tensors to `device`. */
export async function drain(grads: Map<string, tf.Tensor>, sink: GradSink, device?: DeviceGradSink): Promise<void> {
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

/** Hands every host gradient to the sink, whole, in order. */
export async function sinkAll(grads: Map<string, Float32Array>, sink: GradSink): Promise<void> {
  for (const [name, data] of grads) await sink(name, 0, data);
}
