/**
 * Layer-streamed loss and gradients: the whole model never sits on the backend at once. One pass
 * is four kinds of step over shared state (pass.ts):
 *
 *   forward   h₀ = E[ids] (rows read from the checkpoint, or looked up on the GPU in an embedding
 *             kept there), h_{l+1} = layer_l(h_l), keeping the boundary states h_0 … h_L and, for
 *             the plan's `keptLayers` (cuda's written-out layers), what each layer's VJP reads; each
 *             layer's weights are read (BF16/F16 → f32), uploaded, used and released, unless the
 *             weight cache keeps them for the backward pass (forward.ts)
 *   head      loss and ∂h_L over vocabulary chunks, final-norm VJP (headpass.ts, head.ts); the loss
 *             stays on the backend until the pass ends unless `onLoss` asks for it
 *   backward  for l = L−1 … 0: reload layer l, recompute its forward from h_l unless kept, VJP with
 *             the upstream ∂h_{l+1} (`decoderLayerVJP`) → ∂h_l and ∂θ_l, handed to the sink and
 *             freed, or added in place into `deviceSums` (backward.ts)
 *   embedding ∂E[v] = Σ_{n: ids[n]=v} ∂h₀[n] (+ the head's ∂W for tied embeddings), by chunks, or
 *             as the non-zero rows (to `rowSink`, or into `deviceRowSums`) (embedding.ts)
 *
 * Gradients reach the sink as (name, first element, data) pieces: whole tensors for layers and the
 * final norm, row chunks for the embedding and lm_head. Every read to the host is async
 * (`await t.data()`), which WebGPU requires; while the sink consumes layer l's gradients the backend
 * is already computing layer l−1's. With a `deviceSink` the gradients stay on the backend instead
 * (handed over as tensors, e.g. to sums kept there across passes); only the embedding's rows, which
 * are gathered on the host, still reach `sink`.
 *
 * Passes that share one `StreamWeights` (option `weights`) upload the cached layers and head (and,
 * with `embeddingOnDevice`, the embedding) once.
 * With `profile`, a `StageClock` (profile.ts) times the steps from outside.
 */
import type * as tf from '@tensorflow/tfjs';
import { SilError } from '../errors';
import { type Batch, type PreparedBatch, prepareBatch } from '../model/batch';
import { checkSequenceLength, type ModelConfig } from '../model/config';
import { backwardLayer, handOff } from './backward';
import { embeddingGrads } from './embedding';
import { embedGroups, forwardLayer, loadLayer } from './forward';
import { headBackward, headLoss, readLoss } from './headpass';
import { type DeviceGradSink, type GradSink, type RowSink, StreamPass } from './pass';
import { planStreaming, type StreamPlan, type StreamPlanOptions } from '../model/planner';
import { StageClock } from './profile';
import type { RangedSource, StreamWeights } from './weights';

export type { RangedSource } from './weights';

export type { DeviceGradSink, GradSink, RowSink } from './pass';

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
  rowSink?: RowSink;
  /**
   * with `deviceSink`: the float32 sum on the backend that parameter `name`'s gradient may be added
   * into in place (the cuda backend's layer products with β = 1; GradSums.inPlace); a gradient added
   * there does not reach `deviceSink`
   */
  deviceSums?: (name: string) => tf.Tensor | undefined;
  /**
   * with `deviceSink` and an untied embedding: the embedding's float32 sum [V·H] on the backend that
   * its gradient rows may be added into in place (a backend's `rowsSumInto`; GradSums.rowsInPlace),
   * instead of reaching `rowSink`
   */
  deviceRowSums?: (name: string) => tf.Tensor | undefined;
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
  /**
   * seconds in the forward pass (up to the loss: queued on a GPU backend, read back only with
   * `onLoss`) and in the rest of the pass; their sum is the pass's time
   */
  forwardSeconds: number;
  backwardSeconds: number;
}

const now = () => Number(process.hrtime.bigint()) / 1e9;

/**
 * Loss and every parameter's gradient of `batch`, layer-streamed from `source`; gradients go to
 * `sink` keyed by checkpoint tensor names. Runs on the current TF.js backend.
 *
 * With `sequencesPerGroup` below the batch size each layer (and each head chunk) takes the batch a
 * group of sequences at a time while its weights are loaded: the weights are read once per pass
 * whatever the group size, and each tensor's gradient reaches the sink once, summed over the groups
 * (on the host for host boundaries, i.e. the CPU backends, so the backend holds one group's
 * gradients at a time; on the backend otherwise).
 */
export async function streamedGradients(cfg: ModelConfig, source: RangedSource, batch: Batch | PreparedBatch, sink: GradSink, o: StreamOptions = {}): Promise<StreamResult> {
  const clock = o.profile ? new StageClock(o.profile) : null;
  const time = <T>(stage: string, step: () => T | Promise<T>): Promise<T> => (clock ? clock.time(stage, step) : Promise.resolve(step()));
  const pb = 'ids' in batch ? batch : prepareBatch(batch, cfg.vocabSize);
  checkSequenceLength(cfg, pb.seqLen);
  const denominator = o.denominator ?? pb.count;
  if (pb.count <= 0 || !(denominator > 0)) throw new SilError('INVALID_DATA', 'batch has no position with a label (labels are all −100 after the causal shift)');
  const plan = planStreaming(cfg, pb.batch, pb.seqLen, o);
  o.onPlan?.(plan);
  const pass = new StreamPass(cfg, clock ? clock.source(source) : source, pb, plan, {
    denominator,
    sink: clock ? clock.sink(sink) : sink,
    deviceSink: o.deviceSink,
    rowSink: o.rowSink,
    deviceSums: o.deviceSink ? o.deviceSums : undefined,
    deviceRowSums: o.deviceSink ? o.deviceRowSums : undefined,
    weights: o.weights,
  });
  try {
    const t0 = now();
    const hs = embedGroups(pass);
    for (let i = 0; i < cfg.numLayers; i++) {
      await time('upload', () => loadLayer(pass, i));
      await time('forward', () => forwardLayer(pass, i, hs));
      o.onStep?.();
    }
    const head = await time('head', () => headLoss(pass, hs));
    const t1 = now();
    // reading the loss waits for the GPU: only now when asked for before the gradients, else at the end
    if (o.onLoss) await o.onLoss(await readLoss(head), pb.count);
    o.onStep?.();
    const { dys, scales } = await time('head', () => headBackward(pass, hs, head));
    let pending: Promise<void> = Promise.resolve();
    for (let i = cfg.numLayers - 1; i >= 0; i--) {
      await time('upload', () => loadLayer(pass, i));
      const grads = await time('vjp', () => backwardLayer(pass, i, dys));
      await time('drain', async () => {
        await pending; // the sink finishes layer i+1 while the backend computes layer i
        pending = handOff(pass, grads);
        if (clock) await pending;
      });
      o.onStep?.();
    }
    await pending;
    await time('embedding', () => embeddingGrads(pass, dys, head, scales));
    o.onStep?.();
    const loss = await readLoss(head);
    const t2 = now();
    return { loss, count: pb.count, plan, forwardSeconds: t1 - t0, backwardSeconds: t2 - t1 };
  } finally {
    pass.close();
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
