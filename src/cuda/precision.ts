/** The cuda backend's `--precision` choices for matrix products (device.ts): plain data, loaded without the driver bindings. */
export type Precision = 'bf16' | 'tf32' | 'f32';
export const PRECISIONS: Precision[] = ['bf16', 'tf32', 'f32'];

/**
 * Whether the cuda backend uploads a checkpoint tensor stored as `dtype` as its bfloat16 halves
 * only (`writeBf16`: BF16, exact) rather than as float32 words (F16 widened on the GPU, F32 as is).
 */
export function keepsStoredHalves(dtype: string | undefined): boolean {
  return dtype === 'BF16';
}

/** Whether matrix products under `precision` read their operands' bfloat16 copies (else the float32 words). */
export function productsReadHalves(precision: Precision): boolean {
  return precision === 'bf16';
}

/** How a weight is read on the device: as a matrix-product operand, by float32 kernels (norms, gathers, bias adds), or both (a tied embedding). */
export interface WeightUse {
  product: boolean;
  f32: boolean;
}

/**
 * Device bytes per element the cuda backend holds for a weight stored as `dtype`, read as `use`
 * under `precision` (backend.ts keeps both forms once made, for as long as the tensor lives):
 * bfloat16 halves (2) when uploaded as stored (`keepsStoredHalves`) or multiplied in bf16; float32
 * words (4) when uploaded as float32, read by a float32 kernel, or multiplied in tf32/f32. So a BF16
 * checkpoint's matrix weights take 2 bytes under bf16 and 6 under tf32/f32 (halves kept, words
 * widened), its norm weights 6; an F16/F32 checkpoint's matrix weights 6 under bf16 (words and a
 * kept bf16 copy) and 4 under tf32/f32, its norm weights 4.
 */
export function residentBytesPerElement(precision: Precision, dtype: string | undefined, use: WeightUse): number {
  const stored = keepsStoredHalves(dtype);
  const halves = stored || (use.product && productsReadHalves(precision));
  const words = !stored || use.f32 || (use.product && !productsReadHalves(precision));
  return (halves ? 2 : 0) + (words ? 4 : 0);
}

/** The shapes that size one decoder layer's kept forward state. */
export interface KeptLayerDims {
  hidden: number;
  /** query and key/value widths (heads · head_dim, kv_heads · head_dim) */
  qWidth: number;
  kvWidth: number;
  ffn: number;
  heads: number;
}

/**
 * Device bytes of the forward state that the cuda backend's written-out layer keeps for its VJP
 * (cuda/layer.ts `KeptLayer`), for `seqs` sequences of `seqLen` tokens (N = seqs · seqLen):
 * float32 1/rms of both norms (2N), h₁ [N, H], SwiGLU's g and u [N, F]; the attention
 * probabilities [seqs, heads, T, T] as float32 (the softmax gradient) plus their bf16 copy under bf16
 * products; and the tensors read only as product operands (x, x₂ [N, H], q, merge(O) [N, Q], k, v
 * [N, K], m [N, F]) as bf16 copies alone under bf16 products, float32 otherwise.
 */
export function keptLayerBytes(precision: Precision, d: KeptLayerDims, seqs: number, seqLen: number): number {
  const N = seqs * seqLen;
  const operand = productsReadHalves(precision) ? 2 : 4;
  const probs = seqs * d.heads * seqLen * seqLen * (productsReadHalves(precision) ? 6 : 4);
  return 4 * N * (2 + d.hidden + 2 * d.ffn) + probs + operand * N * (2 * d.hidden + 2 * d.qWidth + 2 * d.kvWidth + d.ffn);
}
