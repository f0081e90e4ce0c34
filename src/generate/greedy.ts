/**
 * Greedy decoding, two ways that must agree token for token:
 *
 * - `generateGreedy`: batched, with a KV cache. Prompts are LEFT-padded to a common length T₀;
 *   every token carries its own position (t − pad_b), so RoPE sees the same positions as an
 *   unpadded run, and padded keys are masked out (additive −1e9, as in batch.ts). The prefill runs
 *   the whole padded prompt once through the decoder block (model/layer.ts) with its KV-cache hook,
 *   which keeps each layer's post-RoPE keys and values ([B, kv_heads, T, head_dim], before the GQA
 *   repeat); each later step feeds one token per sequence, appends its key/value to the cache and
 *   attends over the cache.
 * - `generateGreedyReference`: one sequence at a time, the full forward pass recomputed for every
 *   new token (`CausalLM.logits`), no cache, no padding. The reference for the cached version.
 *
 * Per step both take the last position's logits, apply the repetition penalty of Keskar et al.
 * (CTRL; transformers' RepetitionPenaltyLogitsProcessor) over every token already in the sequence
 * (prompt and output): z ← z / p if z > 0 else z · p, then the argmax (lowest id on ties).
 * A sequence stops after emitting a stop id (kept in its output) or `maxNewTokens` tokens.
 */
import * as tf from '@tensorflow/tfjs';
import { SilError } from '../errors';
import { MASKED } from '../model/batch';
import type { ModelConfig } from '../model/config';
import { embed } from '../model/embedding';
import { decoderLayer, type KvPair } from '../model/layer';
import type { CausalLM } from '../model/model';
import { head } from '../model/model';
import { EMBED } from '../model/names';
import { ropeTables } from '../model/rope';

export interface GenerateOptions {
  maxNewTokens: number;
  /** 1 = off */
  repetitionPenalty?: number;
  /** generation stops after any of these ids */
  stopIds?: readonly number[];
  /** sequences per batch for the cached version (default 16) */
  batchSize?: number;
  /** called after each batch with the prompts done so far and their total */
  onBatch?: (done: number, total: number) => void;
}

/** Penalises the tokens in `seen` (CTRL repetition penalty), then returns the argmax. */
export function pickGreedy(logits: Float32Array, offset: number, vocab: number, seen: Iterable<number>, penalty: number): number {
  const z = logits.slice(offset, offset + vocab);
  if (penalty !== 1) {
    for (const id of new Set(seen)) z[id] = z[id] > 0 ? z[id] / penalty : z[id] * penalty;
  }
  let best = 0;
  for (let v = 1; v < vocab; v++) if (z[v] > z[best]) best = v;
  return best;
}

function checkPrompts(prompts: readonly (readonly number[])[], cfg: ModelConfig, o: GenerateOptions): void {
  if (!(o.maxNewTokens >= 0)) throw new SilError('INVALID_ARGUMENT', `max new tokens must be ≥ 0, found ${o.maxNewTokens}`);
  if ((o.repetitionPenalty ?? 1) <= 0) throw new SilError('INVALID_ARGUMENT', `repetition penalty must be > 0, found ${o.repetitionPenalty}`);
  prompts.forEach((p, i) => {
    if (p.length === 0) throw new SilError('INVALID_DATA', `prompt ${i} is empty`);
    for (const id of p) if (!Number.isInteger(id) || id < 0 || id >= cfg.vocabSize) throw new SilError('INVALID_DATA', `prompt ${i} holds token ${id}, outside [0, ${cfg.vocabSize})`);
  });
}

/** Full recompute per token, one sequence at a time (the reference). */
export function generateGreedyReference(model: CausalLM, prompts: readonly (readonly number[])[], o: GenerateOptions): number[][] {
  const cfg = model.cfg;
  checkPrompts(prompts, cfg, o);
  const stop = new Set(o.stopIds ?? []);
  return prompts.map((prompt) => {
    const ids = [...prompt];
    const out: number[] = [];
    while (out.length < o.maxNewTokens) {
      const logits = model.logits({ input_ids: [ids], labels: [ids.map(() => -100)] });
      const next = pickGreedy(logits, (ids.length - 1) * cfg.vocabSize, cfg.vocabSize, ids, o.repetitionPenalty ?? 1);
      out.push(next);
      ids.push(next);
      if (stop.has(next)) break;
    }
    return out;
  });
}

/** RoPE rows for the given positions: [B, 1, T, D] each. */
function ropeFor(table: { cos: Float32Array; sin: Float32Array }, d: number, positions: Int32Array, b: number, t: number): { cos: tf.Tensor; sin: tf.Tensor } {
  const cos = new Float32Array(b * t * d);
  const sin = new Float32Array(b * t * d);
  positions.forEach((pos, n) => {
    cos.set(table.cos.subarray(pos * d, (pos + 1) * d), n * d);
    sin.set(table.sin.subarray(pos * d, (pos + 1) * d), n * d);
  });
  return { cos: tf.tensor4d(cos, [b, 1, t, d]), sin: tf.tensor4d(sin, [b, 1, t, d]) };
}

function generateBatch(model: CausalLM, prompts: readonly (readonly number[])[], o: GenerateOptions): number[][] {
  const cfg = model.cfg;
  const V = cfg.vocabSize;
  const d = cfg.headDim;
  const B = prompts.length;
  const T0 = Math.max(...prompts.map((p) => p.length));
  const total = T0 + o.maxNewTokens;
  if (cfg.maxPositionEmbeddings !== null && total > cfg.maxPositionEmbeddings) {
    throw new SilError('INVALID_ARGUMENT', `prompt (${T0} tokens) + ${o.maxNewTokens} new tokens exceeds max_position_embeddings ${cfg.maxPositionEmbeddings}`);
  }
  const table = ropeTables(cfg.rope, d, total);
  const pads = prompts.map((p) => T0 - p.length);
  const stop = new Set(o.stopIds ?? []);
  const penalty = o.repetitionPenalty ?? 1;
  const outs: number[][] = prompts.map(() => []);
  const done = prompts.map(() => o.maxNewTokens === 0);
  const seen = prompts.map((p) => new Set(p));
  const p = model.weights;
  let caches: (KvPair | null)[] = new Array(cfg.numLayers).fill(null);
  // step 0 is the prefill over T0 positions; step s ≥ 1 feeds one token per sequence
  let ids = new Int32Array(B * T0);
  let positions = new Int32Array(B * T0);
  let mask = new Float32Array(B * T0 * T0);
  for (let bi = 0; bi < B; bi++) {
    for (let t = 0; t < T0; t++) {
      ids[bi * T0 + t] = t < pads[bi] ? 0 : prompts[bi][t - pads[bi]];
      positions[bi * T0 + t] = Math.max(0, t - pads[bi]);
      for (let k = 0; k < T0; k++) mask[(bi * T0 + t) * T0 + k] = k <= t && k >= pads[bi] ? 0 : MASKED;
    }
  }
  let t = T0;
  let cacheLen = 0;
  try {
    for (let step = 0; step < o.maxNewTokens && done.some((x) => !x); step++) {
      const { cos, sin } = ropeFor(table, d, positions, B, t);
      const maskT = tf.tensor4d(mask, [B, 1, t, cacheLen + t]);
      const result = tf.tidy(() => {
        let h = embed(p.get(EMBED), ids);
        const kept: tf.Tensor[] = [];
        const ctx = { batch: B, seqLen: t, cos, sin, mask: maskT };
        for (let i = 0; i < cfg.numLayers; i++) h = decoderLayer(h, i, p, cfg, ctx, { cache: { past: caches[i], keep: (kv) => kept.push(kv.k, kv.v) } });
        const last = tf.reshape(tf.slice(tf.reshape(h, [B, t, cfg.hiddenSize]), [0, t - 1, 0], [B, 1, cfg.hiddenSize]), [B, cfg.hiddenSize]);
        return [head(last, p, cfg), ...kept];
      });
      tf.dispose([cos, sin, maskT]);
      for (const c of caches) if (c) tf.dispose([c.k, c.v]);
      caches = Array.from({ length: cfg.numLayers }, (_, i) => ({ k: result[1 + 2 * i], v: result[2 + 2 * i] }));
      const logits = result[0].dataSync() as Float32Array;
      result[0].dispose();
      cacheLen += t;
      t = 1;
      ids = new Int32Array(B);
      positions = new Int32Array(B);
      mask = new Float32Array(B * (cacheLen + 1));
      for (let bi = 0; bi < B; bi++) {
        const tok = done[bi] ? 0 : pickGreedy(logits, bi * V, V, seen[bi], penalty);
        if (!done[bi]) {
          outs[bi].push(tok);
          seen[bi].add(tok);
          if (stop.has(tok) || outs[bi].length >= o.maxNewTokens) done[bi] = true;
        }
        ids[bi] = tok;
        positions[bi] = prompts[bi].length + outs[bi].length - (done[bi] && !outs[bi].length ? 0 : 1);
        for (let k = 0; k <= cacheLen; k++) mask[bi * (cacheLen + 1) + k] = k >= pads[bi] ? 0 : MASKED;
      }
    }
  } finally {
    for (const c of caches) if (c) tf.dispose([c.k, c.v]);
  }
  return outs;
}

/** Batched greedy decoding with a KV cache (see the module comment). */
export function generateGreedy(model: CausalLM, prompts: readonly (readonly number[])[], o: GenerateOptions): number[][] {
  checkPrompts(prompts, model.cfg, o);
  const bs = Math.max(1, o.batchSize ?? 16);
  const out: number[][] = [];
  for (let lo = 0; lo < prompts.length; lo += bs) {
    out.push(...generateBatch(model, prompts.slice(lo, lo + bs), o));
    o.onBatch?.(out.length, prompts.length);
  }
  return out;
}
