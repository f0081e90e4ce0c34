/**
 * Gradient sources: where gradients of calibration batches come from, below every command that
 * needs them (`sil locate`, through locate/source.ts, which picks one; the layer-streamed source
 * is stream/source.ts).
 *
 * A source computes, for one batch of calibration examples at θpre, the gradient of the batch's
 * summed response loss
 *
 *   Σₓ L(x),  L(x) = −log p(response | prompt) = Σ_{t ∈ response(x)} −log p(y_t | y_<t)
 *
 * and hands it to a consumer tensor by tensor (checkpoint tensor names), so a layer-streamed source
 * can produce and free one layer at a time. The in-memory runtime returns ∇ of the *mean* token
 * loss over the batch; multiplying by the number of labelled positions gives ∇ Σₓ L(x) exactly.
 *
 * In-memory sources here: `workers` (data-parallel wasm worker threads, `GradWorkerPool`, the CPU
 * default) and `in-process` (one `CausalLM` on the current TF.js backend); `planGradients`
 * (model/planner, the memory planner) decides between them and the layer-streamed source.
 */
import * as path from 'node:path';
import type { BlasChoice } from '../blas';
import type { Checkpoint } from '../io/checkpoint';
import type { BackendChoice, SelectedBackend } from './backend';
import type { Batch } from './batch';
import type { ModelConfig } from './config';
import { CausalLM, type LossAndGrads } from './model';
import { GradWorkerPool } from './parallel';
import { type GradientPlan, instanceCap, sequencesPerPass } from './planner';

/** Receives one tensor's gradient; the array is handed over (the source does not reuse it). */
export type GradConsumer = (name: string, grad: Float32Array) => void;

export interface BatchResult {
  /** Σₓ L(x) over the batch (nats) */
  loss: number;
  /** labelled (response) positions in the batch */
  tokens: number;
}

/** Receives a finished sum over all units: elements [start, start + data.length) of `field/name`. */
export type SumConsumer = (field: 'grad' | 'absgrad', name: string, start: number, data: Float32Array) => void | Promise<void>;

export interface GradientSource {
  /** `workers`, `in-process`, `streamed`, … (recorded in the manifest) */
  readonly kind: string;
  readonly backend: SelectedBackend;
  /** worker threads (1 for in-process) */
  readonly workers: number;
  /** how many `gradients` calls may run at once (per-example accumulation uses them all) */
  readonly parallel: number;
  /** for long passes (the layer-streamed source): steps per `gradients` call or unit, reported through `onStep` */
  readonly stepsPerUnit?: number;
  /** ∇θ Σₓ L(x) for the batch, tensor by tensor, in the model's parameter order. */
  gradients(batch: Batch, consume: GradConsumer, onStep?: () => void): Promise<BatchResult>;
  /**
   * Optional, for sources that can keep the sums themselves (on the GPU, read back once): whether
   * they can for these units and fields, and then Σ over units of ∇ (`grad`) and |∇| (`absgrad`) of
   * each unit's summed loss, one pass per unit, handed to `consume` once all units are done.
   */
  canSum?(units: readonly Batch[], fields: ReadonlyArray<'grad' | 'absgrad'>): boolean;
  sums?(units: readonly Batch[], fields: ReadonlyArray<'grad' | 'absgrad'>, onUnit: (r: BatchResult, examples: number) => void, consume: SumConsumer, onStep?: () => void): Promise<void>;
  close(): Promise<void>;
}

export interface SourceContext {
  modelDir: string;
  checkpoint: Checkpoint;
  config: ModelConfig;
  backend: BackendChoice;
  /** wasm matrix products through the system BLAS (default: auto) */
  blas?: BlasChoice;
  threads: number;
  /** one example per call (per-example accumulators) or whole batches */
  perExample: boolean;
  /** `always`: the layer-streamed source whatever the plan */
  stream?: 'auto' | 'always';
  /** the longest sequence of any batch the source will take (plans the logits' memory) */
  maxSeqLen?: number;
}

/** ∇ of the mean loss × labelled positions = ∇ of the summed loss; the consumer sees each tensor. */
function emitScaled(r: LossAndGrads, consume: GradConsumer): BatchResult {
  for (const [name, g] of r.grads) {
    for (let i = 0; i < g.length; i++) g[i] *= r.count;
    consume(name, g);
  }
  return { loss: r.loss * r.count, tokens: r.count };
}

class WorkerSource implements GradientSource {
  readonly kind = 'workers';
  private turn = 0;
  constructor(
    readonly backend: SelectedBackend,
    private readonly pools: GradWorkerPool[],
    readonly workers: number,
  ) {}
  get parallel(): number {
    return this.pools.length;
  }
  async gradients(batch: Batch, consume: GradConsumer): Promise<BatchResult> {
    const pool = this.pools[this.turn++ % this.pools.length];
    return emitScaled(await pool.lossAndGrads(batch), consume);
  }
  async close(): Promise<void> {
    await Promise.all(this.pools.map((p) => p.close()));
  }
}

class InProcessSource implements GradientSource {
  readonly kind = 'in-process';
  readonly workers = 1;
  readonly parallel = 1;
  constructor(
    readonly backend: SelectedBackend,
    private readonly model: CausalLM,
    private readonly capBytes: number,
  ) {}
  async gradients(batch: Batch, consume: GradConsumer): Promise<BatchResult> {
    const per = sequencesPerPass(this.model.cfg, batch.input_ids[0]?.length ?? 1, this.capBytes);
    return emitScaled(this.model.lossAndGradsInPasses(batch, per), consume);
  }
  async close(): Promise<void> {
    this.model.dispose();
  }
}

/** Starts the in-memory source `plan` calls for (`workers` or `in-process`) on the backend already selected. */
export async function openInMemorySource(ctx: SourceContext, plan: GradientPlan, selected: SelectedBackend): Promise<GradientSource> {
  if (plan.mode === 'workers') {
    const dir = path.resolve(ctx.modelDir);
    const pools: GradWorkerPool[] = [];
    try {
      const opts = { blas: ctx.blas, instances: plan.workers };
      if (ctx.perExample) for (let i = 0; i < plan.workers; i++) pools.push(await GradWorkerPool.start(dir, 1, 'wasm', opts));
      else pools.push(await GradWorkerPool.start(dir, plan.workers, 'wasm', opts));
    } catch (e) {
      await Promise.all(pools.map((p) => p.close()));
      throw e;
    }
    const matmul = { ...selected, matmul: pools[0].matmul, matmulNote: pools[0].matmulNote };
    return new WorkerSource(matmul, pools, plan.workers);
  }
  return new InProcessSource(selected, CausalLM.fromCheckpoint(ctx.checkpoint), instanceCap(selected.name));
}
