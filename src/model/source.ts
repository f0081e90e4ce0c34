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
 * default) and `in-process` (one `CausalLM` on the current TF.js backend); `planGradients` decides
 * between them and the layer-streamed source.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import type { BlasChoice } from '../blas';
import type { Checkpoint } from '../io/checkpoint';
import type { BackendChoice, SelectedBackend } from './backend';
import type { Batch } from './batch';
import type { ModelConfig } from './config';
import { CausalLM, type LossAndGrads } from './model';
import { GradWorkerPool } from './parallel';
import { inMemoryPassBytes, sequencesPerPass, WASM_HEAP_BYTES } from './memory';

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

/** Bytes one in-memory model instance needs: weights, kept transposes and gradients (f32), plus slack. */
export function inMemoryBytes(params: number): number {
  return params * 4 * 3.5;
}

export interface GradientPlan {
  mode: 'workers' | 'in-process' | 'streamed';
  workers: number;
  /** bytes per model instance of the in-memory plan */
  bytesPerInstance: number;
  /** sequences per in-memory pass (memory.ts; 0 with the streamed plan when not even one fits) */
  sequencesPerPass?: number;
  why: string;
}

/** The passes a plan is made for: the model's config and the longest sequence of any batch. */
export interface PassShape {
  config: ModelConfig;
  seqLen: number;
}

/**
 * Decides how gradients are computed: in memory on `threads` wasm workers (as many as RAM allows)
 * or in process, or layer-streamed when one in-memory instance would not fit (the wasm heap, or
 * 80% of RAM). With the passes' shape the plan counts the logits and their gradients too
 * (`inMemoryPassBytes`, memory.ts): a pass takes as many sequences as fit, and a model whose single
 * sequence does not fit (a 152k vocabulary at long lengths) streams, its vocabulary in chunks.
 */
export function planGradients(params: number, backend: string, threads: number, ramBytes = os.totalmem(), shape?: PassShape): GradientPlan {
  const ramBudget = 0.8 * ramBytes;
  const heapCap = backend === 'wasm' ? WASM_HEAP_BYTES : Infinity;
  const cap = Math.min(heapCap, ramBudget);
  const per0 = inMemoryBytes(params);
  const perSeqs = shape ? sequencesPerPass(shape.config, shape.seqLen, cap) : undefined;
  // what one instance holds at its peak: the whole heap it may fill, or the weights alone without a shape
  const per = shape ? Math.min(cap, inMemoryPassBytes(shape.config, Math.max(1, perSeqs!), shape.seqLen)) : per0;
  const gb = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
  if (backend === 'webgpu') {
    // GPU reads must be asynchronous; the layer-streamed engine is the runtime's async path
    return { mode: 'streamed', workers: 1, bytesPerInstance: per, why: 'webgpu runs the layer-streamed engine (asynchronous GPU reads)' };
  }
  if (backend === 'cuda') {
    // the streamed engine keeps boundaries, cached weights and gradient sums in GPU memory
    return { mode: 'streamed', workers: 1, bytesPerInstance: per, why: 'cuda runs the layer-streamed engine (weights and gradient sums kept in GPU memory)' };
  }
  if (per0 > cap) {
    return { mode: 'streamed', workers: 1, bytesPerInstance: per0, why: `${params} parameters need ≈${gb(per0)} in memory (limit ${gb(cap)})` };
  }
  if (shape && perSeqs === 0) {
    const one = inMemoryPassBytes(shape.config, 1, shape.seqLen);
    return {
      mode: 'streamed',
      workers: 1,
      bytesPerInstance: one,
      sequencesPerPass: 0,
      why: `one ${shape.seqLen}-token sequence with a ${shape.config.vocabSize}-entry vocabulary needs ≈${gb(one)} in memory, logits included (limit ${gb(cap)})`,
    };
  }
  const passes = shape ? `, ${perSeqs} sequence(s) of ≤ ${shape.seqLen} tokens per pass` : '';
  if (backend === 'wasm' && threads > 1) {
    const fit = Math.max(1, Math.min(threads, Math.floor(ramBudget / per)));
    return { mode: 'workers', workers: fit, bytesPerInstance: per, sequencesPerPass: perSeqs, why: `${fit} wasm worker(s) × ≈${gb(per)}${passes}` };
  }
  return { mode: 'in-process', workers: 1, bytesPerInstance: per, sequencesPerPass: perSeqs, why: `one ${backend} instance, ≈${gb(per)}${passes}` };
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
  const cap = selected.name === 'wasm' ? WASM_HEAP_BYTES : 0.8 * os.totalmem();
  return new InProcessSource(selected, CausalLM.fromCheckpoint(ctx.checkpoint), cap);
}
