/**
 * Rotary position embedding (Su et al., RoFormer), in Hugging Face's `rotate_half` convention:
 * the head dimension is split in halves (x1, x2) and
 *   rope(x)_t = x_t · cos(t·ω) + rotate_half(x_t) · sin(t·ω),   rotate_half(x) = [−x2, x1],
 * with ω = inv_freq repeated twice ([ω, ω], length head_dim). cos/sin are precomputed tables
 * [T, head_dim], so the op is two multiplies, a slice/concat and an add: all differentiable on every
 * TF.js backend.
 *
 * inv_freq_i = 1 / θ^(2i/d). `linear` divides it by `factor`; `llama3` (Llama 3.1) keeps high
 * frequencies, divides low ones by `factor` and interpolates smoothly in between. Computed in
 * float32 steps as transformers does.
 */
import * as tf from '@tensorflow/tfjs';
import type { RopeConfig } from './config';

const f32 = Math.fround;

export function ropeInvFreq(rope: RopeConfig, headDim: number): Float32Array {
  const half = headDim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) inv[i] = f32(1 / f32(Math.pow(rope.theta, f32((2 * i) / headDim))));
  if (rope.type === 'linear') {
    for (let i = 0; i < half; i++) inv[i] = f32(inv[i] / rope.factor!);
  } else if (rope.type === 'llama3') {
    const factor = rope.factor!;
    const lo = rope.lowFreqFactor!;
    const hi = rope.highFreqFactor!;
    const old = rope.originalMaxPositionEmbeddings!;
    const lowFreqWavelen = old / lo;
    const highFreqWavelen = old / hi;
    for (let i = 0; i < half; i++) {
      const wavelen = f32((2 * Math.PI) / inv[i]);
      let v = wavelen > lowFreqWavelen ? f32(inv[i] / factor) : inv[i];
      const isMedium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
      if (isMedium) {
        const smooth = f32((f32(old / wavelen) - lo) / (hi - lo));
        v = f32(f32(((1 - smooth) * v) / factor) + f32(smooth * v));
      }
      inv[i] = v;
    }
  }
  return inv;
}

/** cos/sin tables [T, headDim] for positions 0..T−1. */
export function ropeTables(rope: RopeConfig, headDim: number, seqLen: number): { cos: Float32Array; sin: Float32Array } {
  const inv = ropeInvFreq(rope, headDim);
  const half = headDim / 2;
  const cos = new Float32Array(seqLen * headDim);
  const sin = new Float32Array(seqLen * headDim);
  for (let t = 0; t < seqLen; t++) {
    for (let i = 0; i < half; i++) {
      const a = f32(t * inv[i]);
      const c = Math.cos(a);
      const s = Math.sin(a);
      cos[t * headDim + i] = c;
      cos[t * headDim + half + i] = c;
      sin[t * headDim + i] = s;
      sin[t * headDim + half + i] = s;
    }
  }
  return { cos, sin };
}

/** rotate_half along the last axis: [x1, x2] → [−x2, x1]. */
export function rotateHalf(x: tf.Tensor): tf.Tensor {
  const d = x.shape[x.rank - 1];
  const [x1, x2] = tf.split(x, [d / 2, d / 2], x.rank - 1);
  return tf.concat([tf.neg(x2), x1], x.rank - 1);
}

/** Applies RoPE to x [B, H, T, D] with tables cos/sin [T, D] (broadcast over B and H). */
export function applyRope(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor {
  return tf.add(tf.mul(x, cos), tf.mul(rotateHalf(x), sin));
}
