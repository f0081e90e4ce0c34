/**
 * The memory plan of a layer-streamed gradient pass, made up front from the config and the batch
 * shape (llm.c's `fill_in_parameter_sizes` / `fill_in_activation_sizes`, for one layer at a time).
 *
 * With N = B·T tokens, hidden H, FFN F, q/kv widths Q = heads·D and K = kv_heads·D, float32 (the
 * weights, and the head's rows the cache keeps, at the cuda backend's resident size with `weightStorage`):
 *   layer weights   P_l = 2H + Q·H + 2·K·H + H·Q + 3·F·H (+ biases)
 *   layer grads     P_l
 *   activations     what one layer's tape keeps for its VJP:
 *                   N·(8H + 2Q + 4K + 4F) + 3·B·heads·T²   (norms, projections, RoPE, scores, MLP)
 *   head chunk      C rows of the head (W_c and W_cᵀ, its gradient) and 4 logits-sized [N, C] buffers
 *   boundaries      (L + 1) hidden states [N, H], on the host (wasm, cpu) or the device (webgpu)
 *   kept state      on cuda with its written-out layers and a `deviceBudgetBytes`: what each layer's
 *                   forward leaves for its VJP (`keptLayerBytes`, cuda/precision.ts), for as many
 *                   layers (the last ones) as the budget holds after everything else; their VJPs
 *                   then skip the recomputed forward
 * With `sequencesPerGroup` g below the batch size B, every layer (and every head chunk) takes the
 * batch g sequences at a time: activations and head buffers are those of g·T tokens, the boundaries
 * those of all B·T, and one more float32 copy of the layer's gradients sums the groups (on the host
 * with host boundaries, i.e. CPU backends; on the backend otherwise); the weights are still read
 * once per pass.
 * Peak on the backend ≈ max(layer weights + grads + activations, head chunk) + boundaries on the
 * device + cached weights. The weight cache holds decoder layers first (uploaded once for both
 * passes), then the head's rows (uploaded once for its two or three passes) when all layers fit. The vocabulary chunk C is the largest power of two whose [C, H] and
 * [N, C] float32 buffers both stay under `maxBindingBytes` (WebGPU's storage-buffer binding limit is
 * 2 GiB; a smaller default keeps the wasm heap and host copies modest).
 */
import { keptLayerBytes } from '../../cuda/precision';
import type { ModelConfig } from '../config';
import { cudaWritesLayers } from '../ops';
import { DEFAULT_BINDING_BYTES, STREAMED_HEAP_SHARE, WASM_HEAP_BYTES } from './limits';
import { embeddingLookupBytes, F32, headWeightBytes, layerParamCount, layerWeightBytes, modelParamCount, modelWeightBytes, type WeightStorage } from './sizes';

export interface StreamPlanOptions {
  /** hidden states kept between forward and backward: on the host (default) or the backend */
  boundaries?: 'host' | 'device';
  /** bytes of layer weights that may stay uploaded between forward and backward (default 0) */
  weightCacheBytes?: number;
  /** largest single buffer for a vocabulary chunk (default 256 MiB; WebGPU binds at most 2 GiB) */
  maxBindingBytes?: number;
  /** fixed vocabulary chunk (rows), overriding the computed one (tests) */
  vocabChunk?: number;
  /** sequences that go through a layer together (default: the whole batch) */
  sequencesPerGroup?: number;
  /** how the backend holds weights when not as float32 (the cuda backend: `cudaWeightStorage`, limits.ts) */
  weightStorage?: WeightStorage;
  /**
   * on cuda (with `weightStorage`): device bytes the whole plan may fill; what is left after the
   * stage, cached weights and boundaries keeps layers' forward state for their VJPs (default: none)
   */
  deviceBudgetBytes?: number;
  /**
   * on cuda (with `weightStorage`), for passes that share their weights: keep an untied embedding
   * uploaded too when the cache holds it after the layers and the head, and look its rows up on the
   * device (one pass alone reads the batch's rows from the checkpoint, far less than the table)
   */
  embeddingOnDevice?: boolean;
}

export interface StreamPlan {
  tokens: number;
  /** groups of sequences per layer, and the tokens of the largest */
  groups: number;
  groupTokens: number;
  vocabChunk: number;
  vocabChunks: number;
  /** parameters of the largest decoder layer */
  layerParams: number;
  layerWeightBytes: number;
  layerGradBytes: number;
  activationBytes: number;
  headChunkBytes: number;
  boundaryBytes: number;
  boundaries: 'host' | 'device';
  /** decoder layers whose weights stay uploaded from forward to backward */
  cachedLayers: number;
  /** whether the head's (or the tied embedding's) vocabulary chunks stay uploaded too */
  cachedHead: boolean;
  /** whether an untied embedding stays uploaded too, its rows looked up on the device */
  cachedEmbedding: boolean;
  cachedBytes: number;
  /** the last `keptLayers` decoder layers keep their forward state for the VJP (`keptLayerBytes` each, all groups) */
  keptLayers: number;
  keptLayerBytes: number;
  /** estimated peak bytes on the TF.js backend */
  devicePeakBytes: number;
  /** estimated peak bytes of host (JS) buffers beyond the backend: boundaries, one decoded layer, one gradient */
  hostPeakBytes: number;
}

/** The whole vocabulary when its [V, H] and [N, V] float32 fit in maxBytes, else the largest power-of-two C that does. */
export function vocabChunkRows(vocab: number, hidden: number, tokens: number, maxBytes: number): number {
  if (vocab * Math.max(hidden, tokens) * F32 <= maxBytes) return vocab;
  let c = 1;
  while (c * 2 <= vocab && c * 2 * hidden * F32 <= maxBytes && c * 2 * tokens * F32 <= maxBytes) c *= 2;
  return vocab <= c ? vocab : c;
}

export function planStreaming(cfg: ModelConfig, batch: number, seqLen: number, o: StreamPlanOptions = {}): StreamPlan {
  const N = batch * seqLen;
  const want = o.sequencesPerGroup;
  const per = want !== undefined && want >= 1 ? Math.min(batch, Math.floor(want)) : batch;
  const groups = Math.ceil(batch / per);
  const Ng = per * seqLen;
  const H = cfg.hiddenSize;
  const Q = cfg.numHeads * cfg.headDim;
  const K = cfg.numKvHeads * cfg.headDim;
  const F = cfg.intermediateSize;
  const maxBinding = o.maxBindingBytes ?? DEFAULT_BINDING_BYTES;
  const vocabChunk = Math.min(cfg.vocabSize, o.vocabChunk ?? vocabChunkRows(cfg.vocabSize, H, Ng, maxBinding));
  const layerParams = layerParamCount(cfg);
  const layerBytes = layerWeightBytes(cfg, o.weightStorage);
  const layerGradBytes = layerParams * F32;
  const activationBytes = (Ng * (8 * H + 2 * Q + 4 * K + 4 * F) + 3 * per * cfg.numHeads * seqLen * seqLen) * F32;
  // one group's [Ng, C] buffers; the normed final states and their gradients of every group
  const headChunkBytes = (3 * vocabChunk * H + 4 * Ng * vocabChunk + 3 * N * H) * F32;
  const boundaries = o.boundaries ?? 'host';
  const boundaryBytes = (cfg.numLayers + 1) * N * H * F32;
  const cacheBytes = o.weightCacheBytes ?? 0;
  const cachedLayers = Math.min(cfg.numLayers, Math.floor(cacheBytes / layerBytes));
  const headBytes = headWeightBytes(cfg, o.weightStorage);
  const cachedHead = cachedLayers === cfg.numLayers && cacheBytes >= cachedLayers * layerBytes + headBytes;
  const embBytes = o.embeddingOnDevice && o.weightStorage && !cfg.tieWordEmbeddings ? embeddingLookupBytes(cfg, o.weightStorage) : 0;
  const cachedEmbedding = embBytes > 0 && cachedHead && cacheBytes >= cachedLayers * layerBytes + headBytes + embBytes;
  const cachedBytes = cachedLayers * layerBytes + (cachedHead ? headBytes : 0) + (cachedEmbedding ? embBytes : 0);
  // groups' gradients are summed on the host with host boundaries (CPU backends), else on the backend
  const sumsOnHost = groups > 1 && boundaries === 'host' ? layerGradBytes : 0;
  const sumsOnDevice = groups > 1 && boundaries === 'device' ? layerGradBytes : 0;
  const stage = Math.max(layerBytes + layerGradBytes + sumsOnDevice + activationBytes, headChunkBytes);
  const beforeKept = stage + cachedBytes + (boundaries === 'device' ? boundaryBytes : 0);
  const keptBytes = o.weightStorage && cudaWritesLayers(cfg) ? groups * keptLayerBytes(o.weightStorage.precision, { hidden: H, qWidth: Q, kvWidth: K, ffn: F, heads: cfg.numHeads }, per, seqLen) : 0;
  const budgetLeft = (o.deviceBudgetBytes ?? 0) - beforeKept;
  const keptLayers = keptBytes > 0 && budgetLeft > 0 ? Math.min(cfg.numLayers, Math.floor(budgetLeft / keptBytes)) : 0;
  const devicePeakBytes = beforeKept + keptLayers * keptBytes;
  const hostPeakBytes = (boundaries === 'host' ? boundaryBytes : 0) + layerParams * F32 + sumsOnHost + Math.max(vocabChunk * H, (layerParams / 3) | 0) * F32;
  return {
    tokens: N,
    groups,
    groupTokens: Ng,
    vocabChunk,
    vocabChunks: Math.ceil(cfg.vocabSize / vocabChunk),
    layerParams,
    layerWeightBytes: layerBytes,
    layerGradBytes,
    activationBytes,
    headChunkBytes,
    boundaryBytes,
    boundaries,
    cachedLayers,
    cachedHead,
    cachedEmbedding,
    cachedBytes,
    keptLayers,
    keptLayerBytes: keptBytes,
    devicePeakBytes,
    hostPeakBytes,
  };
}

const gib = (b: number) => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : `${(b / 2 ** 20).toFixed(1)} MiB`);

/** The plan as the lines `sil grad` prints. */
export function formatPlan(p: StreamPlan, cfg: ModelConfig): string {
  return [
    `layer streaming: ${cfg.numLayers} layers × ${(p.layerParams / 1e6).toFixed(1)}M params, ${p.tokens} tokens per pass${p.groups > 1 ? ` in ${p.groups} groups of ≤ ${p.groupTokens}` : ''}, vocabulary in ${p.vocabChunks} chunk(s) of ${p.vocabChunk} rows`,
    `  per layer: weights ${gib(p.layerWeightBytes)}, grads ${gib(p.layerGradBytes)}, activations ${gib(p.activationBytes)}; head chunk ${gib(p.headChunkBytes)}`,
    `  boundaries ${gib(p.boundaryBytes)} on the ${p.boundaries}; ${p.cachedLayers} layer(s)${p.cachedHead ? ' and the head' : ''}${p.cachedEmbedding ? ' and the embedding' : ''} kept uploaded (${gib(p.cachedBytes)})`,
    ...(p.keptLayers > 0 ? [`  forward state kept for the backward pass in ${p.keptLayers} layer(s) (${gib(p.keptLayerBytes)} each; the others recompute their forward)`] : []),
    `  planned peak: backend ${gib(p.devicePeakBytes)}, host buffers ${gib(p.hostPeakBytes)}`,
  ].join('\n');
}

/**
 * Sequences per group of a streamed pass under a hard memory cap (the wasm heap): the most, up to `batch`, whose
 * planned stage plus a packed copy of the layer's weights (XNNPACK's) stays within `share` of `cap`
 * — measured use runs above the plan (an 8B layer at 16 × 128 tokens, planned at 3.5 GB, exhausted
 * the 4 GB heap) — and at least 1.
 */
export function sequencesPerStreamedGroup(cfg: ModelConfig, batch: number, seqLen: number, capBytes: number, share = STREAMED_HEAP_SHARE): number {
  for (let g = batch; g > 1; g--) {
    const p = planStreaming(cfg, batch, seqLen, { sequencesPerGroup: g });
    if (p.devicePeakBytes + p.layerWeightBytes <= share * capBytes) return g;
  }
  return 1;
}

/**
 * Sequences per group of a streamed pass when not given: on wasm the most that one heap allows
 * (`sequencesPerStreamedGroup`), elsewhere the whole batch.
 */
export function defaultSequencesPerGroup(cfg: ModelConfig, backend: string, batch: number, seqLen: number): number {
  return backend === 'wasm' ? sequencesPerStreamedGroup(cfg, batch, seqLen, WASM_HEAP_BYTES) : batch;
}

/**
 * Whether the model's weights (float32, or as `storage` says the backend holds them), `copies`
 * float32 arrays of the model's size (gradient sums kept on the device) and one streamed stage of
 * `stageBytes` fit a device budget of `budgetBytes`: then passes share weights uploaded once (and
 * keep their sums there).
 */
export function fitsOnDevice(cfg: ModelConfig, budgetBytes: number, stageBytes: number, copies = 0, storage?: WeightStorage): boolean {
  return modelWeightBytes(cfg, storage) + modelParamCount(cfg) * F32 * copies + stageBytes <= budgetBytes;
}
