/**
 * A causal language model (Llama / Qwen2 / Mistral) on the current TF.js backend:
 *   h₀ = E[ids];  h_{l+1} = layer_l(h_l);  logits = rmsnorm(h_L; w_norm) W_headᵀ
 *   loss = mean cross-entropy of logits[t] against labels[t+1] where labels ≠ −100
 * and ∂loss/∂θ for every stored parameter, keyed by checkpoint tensor names. With tied embeddings
 * the head is E itself and its gradient is added to the embedding's, as in PyTorch.
 *
 * Structure (for layer streaming): embedding → decoder layers (the one decoder block, layer.ts) →
 * head, each a function of its input and a `Params` view; `decoderLayerVJP` (layer.ts) is the
 * per-layer backward step. `lossAndGrads` differentiates the whole in-memory stack on one tape.
 */
import * as tf from '@tensorflow/tfjs';
import { SilError } from '../errors';
import type { Checkpoint } from '../io/checkpoint';
import type { AttentionContext } from './attention';
import { type Batch, type PreparedBatch, prepareBatch, sliceBatch } from './batch';
import { checkpointConfig, checkSequenceLength, type ModelConfig } from './config';
import { embed, embeddingGrad } from './embedding';
import { decoderLayer, overlay, type Params } from './layer';
import { linear } from './linear';
import { allParamNames, EMBED, FINAL_NORM, layerParamNames, LM_HEAD } from './names';
import { modelOps } from './ops';
import { ropeTables } from './rope';
import { Weights, type WeightSource } from './weights';

export interface LossAndGrads {
  /** mean token cross-entropy (sum / denominator) */
  loss: number;
  /** number of positions with a label */
  count: number;
  /** ∂loss/∂θ for every stored parameter, in `allParamNames` order */
  grads: Map<string, Float32Array>;
}

/** The head's weight: lm_head, or the embedding when tied. */
export function headWeightName(cfg: ModelConfig): string {
  return cfg.tieWordEmbeddings ? EMBED : LM_HEAD;
}

/** h [N, hidden] → logits [N, vocab] */
export function head(h: tf.Tensor, p: Params, cfg: ModelConfig): tf.Tensor {
  const name = headWeightName(cfg);
  return linear(modelOps().rmsNorm(h, p.get(FINAL_NORM), cfg.rmsNormEps), { w: p.get(name) });
}

/** Per-batch constants (RoPE tables, mask) as tensors; dispose with `disposeContext`. */
export function makeContext(cfg: ModelConfig, pb: PreparedBatch): AttentionContext {
  const { cos, sin } = ropeTables(cfg.rope, cfg.headDim, pb.seqLen);
  return {
    batch: pb.batch,
    seqLen: pb.seqLen,
    cos: tf.tensor2d(cos, [pb.seqLen, cfg.headDim]),
    sin: tf.tensor2d(sin, [pb.seqLen, cfg.headDim]),
    mask: tf.tensor4d(pb.mask, [pb.batch, 1, pb.seqLen, pb.seqLen]),
  };
}

export function disposeContext(ctx: AttentionContext): void {
  tf.dispose([ctx.cos, ctx.sin, ctx.mask]);
}

export class CausalLM {
  constructor(
    readonly cfg: ModelConfig,
    readonly weights: Weights,
  ) {}

  /** Loads every weight of a checkpoint (decoded to float32) onto the current backend. */
  static fromCheckpoint(ckpt: Checkpoint): CausalLM {
    const cfg = checkpointConfig(ckpt);
    return CausalLM.fromSource(cfg, ckpt);
  }

  static fromSource(cfg: ModelConfig, source: WeightSource): CausalLM {
    const w = new Weights(cfg, source);
    try {
      w.loadNames(allParamNames(cfg));
    } catch (e) {
      w.dispose();
      throw e;
    }
    return new CausalLM(cfg, w);
  }

  prepare(batch: Batch): PreparedBatch {
    const pb = prepareBatch(batch, this.cfg.vocabSize);
    checkSequenceLength(this.cfg, pb.seqLen);
    return pb;
  }

  private forward(h0: tf.Tensor, p: Params, ctx: AttentionContext): tf.Tensor {
    let h = h0;
    for (let i = 0; i < this.cfg.numLayers; i++) h = decoderLayer(h, i, p, this.cfg, ctx);
    return head(h, p, this.cfg);
  }

  /** Logits [B, T, vocab] as a flat Float32Array. */
  logits(batch: Batch): Float32Array {
    const pb = this.prepare(batch);
    const ctx = makeContext(this.cfg, pb);
    try {
      const out = tf.tidy(() => this.forward(embed(this.weights.get(EMBED), pb.ids), this.weights, ctx));
      const data = out.dataSync() as Float32Array;
      out.dispose();
      return data;
    } finally {
      disposeContext(ctx);
    }
  }

  /**
   * Loss and the gradient of every stored parameter. `denominator` (default: this batch's number of
   * labelled positions) divides the summed token losses, so shards of one batch can be summed.
   */
  lossAndGrads(batch: Batch, denominator?: number): LossAndGrads {
    const cfg = this.cfg;
    const pb = this.prepare(batch);
    const denom = denominator ?? pb.count;
    if (denom <= 0) throw new SilError('INVALID_DATA', 'batch has no position with a label (labels are all −100 after the causal shift)');
    const names: string[] = [];
    for (let i = 0; i < cfg.numLayers; i++) names.push(...layerParamNames(cfg, i));
    names.push(FINAL_NORM, headWeightName(cfg));
    const ctx = makeContext(cfg, pb);
    let outs: tf.Tensor[] = [];
    try {
      outs = tf.tidy(() => {
        const h0 = embed(this.weights.get(EMBED), pb.ids);
        const f = (...xs: tf.Tensor[]) => modelOps().crossEntropy(this.forward(xs[0], overlay(this.weights, names, xs.slice(1)), ctx), pb.targets, denom);
        const { value, grads } = tf.valueAndGrads(f)([h0, ...names.map((n) => this.weights.get(n))]);
        return [value, ...grads];
      });
      const loss = (outs[0].dataSync() as Float32Array)[0];
      const dh0 = outs[1].dataSync() as Float32Array;
      const byName = new Map<string, Float32Array>();
      names.forEach((n, k) => byName.set(n, outs[k + 2].dataSync() as Float32Array));
      const dEmbed = embeddingGrad(dh0, pb.ids, cfg.vocabSize, cfg.hiddenSize, cfg.tieWordEmbeddings ? new Float32Array(byName.get(EMBED)!) : undefined);
      byName.set(EMBED, dEmbed);
      const grads = new Map<string, Float32Array>();
      for (const n of allParamNames(cfg)) grads.set(n, byName.get(n)!);
      return { loss, count: pb.count, grads };
    } finally {
      tf.dispose(outs);
      disposeContext(ctx);
    }
  }

  /**
   * `lossAndGrads` over the batch `per` sequences at a time (at least one), the losses and gradients
   * summed: the same result as one pass, within the memory one pass of `per` sequences needs
   * (`sequencesPerPass`, planner/inmemory.ts). `denominator` defaults to the whole batch's labelled positions.
   */
  lossAndGradsInPasses(batch: Batch, per: number, denominator?: number): LossAndGrads {
    const n = batch.input_ids.length;
    const step = Math.max(1, Math.floor(per));
    if (step >= n) return this.lossAndGrads(batch, denominator);
    const denom = denominator ?? prepareBatch(batch, this.cfg.vocabSize).count;
    let loss = 0;
    let count = 0;
    let acc: Map<string, Float32Array> | null = null;
    for (let e = 0; e < n; e += step) {
      const r = this.lossAndGrads(sliceBatch(batch, e, Math.min(n, e + step)), denom);
      loss += r.loss;
      count += r.count;
      if (!acc) acc = r.grads;
      else {
        for (const [name, g] of r.grads) {
          const a = acc.get(name)!;
          for (let i = 0; i < g.length; i++) a[i] += g[i];
        }
      }
    }
    return { loss, count, grads: acc! };
  }

  /** Names of every stored parameter, in gradient order. */
  paramNames(): string[] {
    return allParamNames(this.cfg);
  }

  dispose(): void {
    this.weights.dispose();
  }
}
