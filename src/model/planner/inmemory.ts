/**
 * The memory plan of an in-memory gradient pass (`CausalLM.lossAndGrads`), made up front from the
 * config and the pass's shape (llm.c's `fill_in_activation_sizes`). With P parameters, L layers,
 * hidden H, FFN F, `heads` attention heads, vocabulary V and N = s·T tokens (s sequences of T), float32:
 *
 *   fixed      3·4·P + 256 MiB        weights, the backend's packed copy of each linear weight, gradients
 *   per token  4·(L·(60H + 20F + 8·heads·T) + LOGIT_BUFFERS·V)
 *
 * The layer term was fitted to measured wasm heap peaks (155.7M params, hidden 1024, FFN 2816, vocab
 * 32k, 8 layers: 2.8 GiB for one 128-token sequence, 3.5 GiB for two). The vocabulary term counts the
 * logits-sized [N, V] buffers alive at the peak of the pass (the logits, the cross-entropy's
 * exp(z − m) and one-hot rows under its custom gradient, the logits' gradient and its transpose for
 * the head's weight gradient): 7.2 measured on a 152k-vocabulary model (474 MiB per 113-token
 * sequence), and half as many again for the wasm heap's fragmentation between passes of different
 * lengths (measured: +14% for 4 × 113 tokens after a pass of 4 × 60). With 128k–152k vocabularies
 * this term is most of a pass: one [16 × 113 × 151,936] float32 buffer alone is over 1 GiB.
 */
import type { ModelConfig } from '../config';
import { WASM_HEAP_BYTES } from './limits';
import { F32, modelParamCount } from './sizes';

/** logits-sized float32 buffers planned per token (see above) */
export const LOGIT_BUFFERS = 11;

/** Bytes a pass holds whatever its size: weights, packed copies, gradients, and slack. */
export function inMemoryFixedBytes(cfg: ModelConfig): number {
  return 3 * F32 * modelParamCount(cfg) + 256 * 2 ** 20;
}

/** Bytes per token of a pass over sequences of `seqLen` tokens: layer activations and the logits' buffers. */
export function inMemoryTokenBytes(cfg: ModelConfig, seqLen: number): number {
  const perLayer = 60 * cfg.hiddenSize + 20 * cfg.intermediateSize + 8 * cfg.numHeads * seqLen;
  return F32 * (cfg.numLayers * perLayer + LOGIT_BUFFERS * cfg.vocabSize);
}

/** Planned peak bytes of one in-memory pass over `sequences` sequences of `seqLen` tokens. */
export function inMemoryPassBytes(cfg: ModelConfig, sequences: number, seqLen: number): number {
  return inMemoryFixedBytes(cfg) + sequences * seqLen * inMemoryTokenBytes(cfg, seqLen);
}

/**
 * How many sequences of `seqLen` tokens one in-memory pass can hold within `capBytes` (the wasm
 * heap by default): 0 when not even one fits — then only the layer-streamed pass, which takes the
 * vocabulary in chunks, can run it. Bigger passes mean bigger, faster matmuls.
 */
export function sequencesPerPass(cfg: ModelConfig, seqLen: number, capBytes = WASM_HEAP_BYTES): number {
  const room = capBytes - inMemoryFixedBytes(cfg);
  const per = Math.max(1, seqLen) * inMemoryTokenBytes(cfg, Math.max(1, seqLen));
  return room <= 0 ? 0 : Math.max(0, Math.floor(room / per));
}

/**
 * Bytes one in-memory model instance needs without a pass shape: weights, kept transposes and
 * gradients (float32), plus slack — the plan for a checkpoint whose config the runtime cannot read.
 */
export function inMemoryBytes(params: number): number {
  return params * 4 * 3.5;
}
