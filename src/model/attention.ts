/**
 * The core of causal multi-head self-attention with grouped-query heads (GQA; MHA when kv heads =
 * heads), as in transformers' eager attention; the projections, RoPE and the merge of the heads are
 * the decoder block's (layer.ts):
 *   k, v repeated n_heads / n_kv_heads times (repeat_kv: each kv head serves consecutive q heads),
 *   a = softmax(q kᵀ / √head_dim + mask) v
 * `mask` is additive [B, 1, T, T]: 0 where key j ≤ query i and j is not padding, −1e9 elsewhere.
 *
 * Fast form (`attentionCore`): the wasm backend multiplies fast only plain 2-D, non-transposed
 * matrices (rank-3/4 or transposed products run a naive loop, ~1 GFLOP/s). So the core runs per
 * (example, kv head) group: the rep = heads / kv_heads query heads that share kv head g are stacked
 * into one [rep·T, D] matrix, and with explicit 2-D transposes
 *   S = Q_g K_gᵀ / √D + mask  [rep·T, T],   P = softmax(S),   O_g = P V_g
 * and a custom gradient of plain products only:
 *   ∂P = ∂O_g V_gᵀ,  ∂V_g = Pᵀ ∂O_g,  ∂S = P ⊙ (∂P − rowsum(∂P ⊙ P)) / √D,  ∂Q_g = ∂S K_g,  ∂K_g = ∂Sᵀ Q_g
 * The stacking also replaces repeat_kv (∂V_g and ∂K_g sum over the rep heads by themselves).
 * `attentionCoreReference` is the textbook form (rank-4 products, repeat_kv with a rank-4 tile, since
 * rank-5 tile has no gradient in TF.js); a test holds the two equal.
 *
 * Batched form (`attentionCoreGrouped`), for backends with fast batched and transposed products
 * (webgpu, tensorflow): the same grouping as one batched product per step instead of a loop over
 * groups — q [B, nh, T, D] is viewed as [B, nkv, rep·T, D] (a reshape: the rep query heads of kv head
 * g are consecutive), S = Q Kᵀ [B, nkv, rep·T, T] viewed as [B, nh, T, T] for the scale and mask,
 * softmax, O = P V. A handful of kernels per layer whatever B and the head count, with TF.js's own
 * gradients.
 */
import * as tf from '@tensorflow/tfjs';

/** Per-batch constants shared by every layer. */
export interface AttentionContext {
  /** B sequences of T new positions */
  batch: number;
  seqLen: number;
  /** RoPE tables of the new positions: [T, head_dim], or [B, 1, T, head_dim] when positions differ per sequence */
  cos: tf.Tensor;
  sin: tf.Tensor;
  /** additive [B, 1, T, T] (with a KV cache [B, 1, T, cached + T]) */
  mask: tf.Tensor;
}

/** repeat_kv: [B, kv, T, D] → [B, kv·rep, T, D], kv head j serving q heads j·rep … j·rep+rep−1 */
export function repeatKv(x: tf.Tensor, rep: number): tf.Tensor {
  if (rep === 1) return x;
  const [b, kv, t, d] = x.shape;
  const tiled = tf.tile(tf.reshape(x, [b, kv, 1, t * d]), [1, 1, rep, 1]);
  return tf.reshape(tiled, [b, kv * rep, t, d]);
}

/**
 * The textbook core: q [B, nh, T, D], k, v [B, nkv, Tk, D] (after RoPE), mask [B, 1, T, Tk] →
 * [B, nh, T, D]. Tk = T, or more with a KV cache (the keys of earlier positions first).
 */
export function attentionCoreReference(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  const [, nh, , d] = q.shape as [number, number, number, number];
  const rep = nh / (k.shape[1] as number);
  const scores = tf.add(tf.mul(tf.matMul(q, repeatKv(k, rep), false, true), 1 / Math.sqrt(d)), mask);
  return tf.matMul(tf.softmax(scores), repeatKv(v, rep));
}

/**
 * The same core with 2-D products per (example, kv head) group and the custom gradient described
 * above: q [B, nh, T, D], k, v [B, nkv, T, D], mask [B, 1, T, T] (a constant) → [B, nh, T, D].
 */
export function attentionCore(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  const [b, nh, t, d] = q.shape as [number, number, number, number];
  const nkv = k.shape[1] as number;
  const rep = nh / nkv;
  const scale = 1 / Math.sqrt(d);
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args[3] as tf.GradSaveFunc;
    const qs = tf.unstack(tf.reshape(args[0] as tf.Tensor, [b * nkv, rep * t, d])) as tf.Tensor2D[];
    const ks = tf.unstack(tf.reshape(args[1] as tf.Tensor, [b * nkv, t, d])) as tf.Tensor2D[];
    const vs = tf.unstack(tf.reshape(args[2] as tf.Tensor, [b * nkv, t, d])) as tf.Tensor2D[];
    const masks = tf.unstack(tf.reshape(mask, [b, 1, t, t]));
    const ps: tf.Tensor2D[] = [];
    const os: tf.Tensor2D[] = [];
    for (let g = 0; g < b * nkv; g++) {
      const s = tf.add(tf.reshape(tf.mul(tf.matMul(qs[g], tf.transpose(ks[g])), scale), [rep, t, t]), masks[Math.floor(g / nkv)]);
      const p = tf.reshape(tf.softmax(s), [rep * t, t]) as tf.Tensor2D;
      ps.push(p);
      os.push(tf.matMul(p, vs[g]));
    }
    // the backward needs Q_g, K_g, V_g and P of every group (saved: the tape may free the rest)
    save([...qs, ...ks, ...vs, ...ps]);
    const value = tf.reshape(tf.stack(os), [b, nh, t, d]);
    const gradFunc = (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const n = b * nkv;
      const sq = saved.slice(0, n) as tf.Tensor2D[];
      const sk = saved.slice(n, 2 * n) as tf.Tensor2D[];
      const sv = saved.slice(2 * n, 3 * n) as tf.Tensor2D[];
      const sp = saved.slice(3 * n, 4 * n) as tf.Tensor2D[];
      const dos = tf.unstack(tf.reshape(dy as tf.Tensor, [n, rep * t, d])) as tf.Tensor2D[];
      const dq: tf.Tensor[] = [];
      const dk: tf.Tensor[] = [];
      const dv: tf.Tensor[] = [];
      for (let g = 0; g < n; g++) {
        const p = sp[g];
        const dp = tf.matMul(dos[g], tf.transpose(sv[g]));
        dv.push(tf.matMul(tf.transpose(p), dos[g]));
        const ds = tf.mul(tf.mul(p, tf.sub(dp, tf.sum(tf.mul(dp, p), -1, true))), scale) as tf.Tensor2D;
        dq.push(tf.matMul(ds, sk[g]));
        dk.push(tf.matMul(tf.transpose(ds), sq[g]));
      }
      return [tf.reshape(tf.stack(dq), [b, nh, t, d]), tf.reshape(tf.stack(dk), [b, nkv, t, d]), tf.reshape(tf.stack(dv), [b, nkv, t, d])];
    };
    return { value, gradFunc };
  });
  return f(q, k, v);
}

/** The batched grouped form described above; same arguments and result as `attentionCore`. */
export function attentionCoreGrouped(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  const [b, nh, t, d] = q.shape as [number, number, number, number];
  const nkv = k.shape[1] as number;
  const rep = nh / nkv;
  const s = tf.matMul(tf.reshape(q, [b, nkv, rep * t, d]), k, false, true);
  const p = tf.softmax(tf.add(tf.mul(tf.reshape(s, [b, nh, t, t]), 1 / Math.sqrt(d)), mask));
  return tf.reshape(tf.matMul(tf.reshape(p, [b, nkv, rep * t, t]), v), [b, nh, t, d]);
}
