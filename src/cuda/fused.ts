/**
 * Fused kernels of the cuda backend (CUDA C in kernels.ts) as TF.js kernels, and the model ops over
 * them (`cudaFusedOps`, registered with the model's seam src/model/fused.ts), each with its gradient
 * through tf.customGrad so the tape, `tf.grads` and the optimisers see ordinary ops:
 *   SilRmsNorm / SilRmsNormGrad        RMSNorm: one row kernel forward (with 1/rms kept), one backward
 *                                      (∂x per row, ∂w as column sums over row chunks)
 *   SilSplitHeads / SilMergeHeads      [B·T, H·D] ↔ [B, H, T, D] with RoPE (and its transpose) on the way
 *   SilMaskedSoftmax / …Grad           softmax(S·scale + mask), one warp per row; ∂S = scale·P⊙(∂P − Σ∂P⊙P)
 *   SilSwiglu / SilSwigluGrad          silu(g)⊙u and both input gradients in one pass
 *   SilLseChunk, SilCeChunkGrad        the vocabulary-chunked cross-entropy's running log-sum-exp and ∂z
 *   SilSegmentRowsSum                  the embedding gradient's rows, summed per token in position order
 * Arithmetic is float32, in the order of the TF.js composites they replace where rounding matters
 * (products and sums of the RoPE and the scaled, masked scores are rounded one by one, not fused).
 */
import * as tf from '@tensorflow/tfjs';
import { type CudaBackend } from './backend';
import { f32, i32, i64, ptr } from './device';
import { reg } from './registry';

const BLOCK = 256;
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const rowGrid = (rows: number) => Math.max(1, Math.min(rows, 65535 * 8));
const warpGrid = (rows: number) => Math.max(1, Math.min(Math.ceil(rows / (BLOCK / 32)), 65535 * 8));

/** Row chunks for the column sums of the RMSNorm weight gradient. */
function dwChunks(rows: number): number {
  return Math.max(1, Math.min(128, Math.ceil(rows / 32)));
}

let registered = false;

/** Registers the fused kernels for the cuda backend (once; called by registerCudaKernels). */
export function registerFusedKernels(): void {
  if (registered) return;
  registered = true;
  reg('SilRmsNorm', (b, { x, w }, at) => {
    const cols = x.shape[x.shape.length - 1];
    const rows = numel(x.shape) / Math.max(cols, 1);
    const y = b.makeOutput(x.shape.slice(), 'float32');
    const r = b.makeOutput([rows], 'float32');
    if (rows * cols > 0) b.device.launch('rms_norm', rowGrid(rows), BLOCK, [ptr(b.ptr(x)), ptr(b.ptr(w)), ptr(b.ptr(y)), ptr(b.ptr(r)), i64(rows), i32(cols), f32(at.eps as number), ptr(0)]);
    return [y, r];
  });
  reg('SilRmsNormGrad', (b, { x, w, dy, r }) => {
    const cols = x.shape[x.shape.length - 1];
    const rows = numel(x.shape) / Math.max(cols, 1);
    const dx = b.makeOutput(x.shape.slice(), 'float32');
    const dw = b.makeOutput(w.shape.slice(), 'float32');
    if (rows * cols === 0) {
      if (cols > 0) b.device.fill32(b.ptr(dw), 0, cols);
      return [dx, dw];
    }
    const d = b.device;
    d.launch('rms_norm_grad', rowGrid(rows), BLOCK, [ptr(b.ptr(x)), ptr(b.ptr(w)), ptr(b.ptr(dy)), ptr(b.ptr(r)), ptr(b.ptr(dx)), i64(rows), i32(cols)]);
    const chunks = dwChunks(rows);
    const partial = d.alloc(chunks * cols * 4);
    try {
      d.launch('rms_norm_dw_parts', d.gridFor(chunks * cols), BLOCK, [ptr(b.ptr(dy)), ptr(b.ptr(x)), ptr(b.ptr(r)), ptr(partial), i64(rows), i32(cols), i32(chunks)]);
      d.launch('col_sum', d.gridFor(cols), BLOCK, [ptr(partial), ptr(b.ptr(dw)), i32(chunks), i32(cols), i32(0)]);
    } finally {
      d.release(partial);
    }
    return [dx, dw];
  });
  const heads = (name: string, kernel: 'rope_split' | 'rope_merge') =>
    reg(name, (b, inputs, at) => {
      const { x, cos, sin } = inputs;
      const [B, T, H, D] = at.dims as [number, number, number, number];
      const out = b.makeOutput(kernel === 'rope_split' ? [B, H, T, D] : [B * T, H * D], 'float32');
      const n = B * T * H * D;
      const rope = cos !== undefined;
      const cs = rope ? b.ptr(cos) : 0;
      const sn = rope ? b.ptr(sin) : 0;
      if (n > 0) b.device.launch(kernel, b.device.gridFor(n), BLOCK, [ptr(b.ptr(x)), ptr(cs), ptr(sn), ptr(b.ptr(out)), i32(B), i32(T), i32(H), i32(D), i32(rope ? 1 : 0), ptr(0)]);
      return out;
    });
  heads('SilSplitHeads', 'rope_split');
  heads('SilMergeHeads', 'rope_merge');
  reg('SilMaskedSoftmax', (b, { s, mask }, at) => {
    const [, nh, T, Tk] = s.shape as [number, number, number, number];
    const rows = numel(s.shape) / Math.max(Tk, 1);
    const p = b.makeOutput(s.shape.slice(), 'float32');
    if (rows * Tk > 0) b.device.launch('masked_softmax', warpGrid(rows), BLOCK, [ptr(b.ptr(s)), ptr(b.ptr(mask)), ptr(b.ptr(p)), i64(rows), i32(T), i32(Tk), i32(nh), f32(at.scale as number), ptr(0)]);
    return p;
  });
  reg('SilMaskedSoftmaxGrad', (b, { p, dp }, at) => {
    const Tk = p.shape[p.shape.length - 1];
    const rows = numel(p.shape) / Math.max(Tk, 1);
    const ds = b.makeOutput(p.shape.slice(), 'float32');
    if (rows * Tk > 0) b.device.launch('masked_softmax_grad', warpGrid(rows), BLOCK, [ptr(b.ptr(p)), ptr(b.ptr(dp)), ptr(b.ptr(ds)), i64(rows), i32(Tk), f32(at.scale as number), ptr(0)]);
    return ds;
  });
  reg('SilSwiglu', (b, { g, u }) => {
    const y = b.makeOutput(g.shape.slice(), 'float32');
    const n = numel(g.shape);
    if (n > 0) b.device.launch('swiglu', b.device.gridFor(n), BLOCK, [ptr(b.ptr(g)), ptr(b.ptr(u)), ptr(b.ptr(y)), i64(n), ptr(0)]);
    return y;
  });
  reg('SilSwigluGrad', (b, { g, u, dy }) => {
    const dg = b.makeOutput(g.shape.slice(), 'float32');
    const du = b.makeOutput(g.shape.slice(), 'float32');
    const n = numel(g.shape);
    if (n > 0) b.device.launch('swiglu_grad', b.device.gridFor(n), BLOCK, [ptr(b.ptr(g)), ptr(b.ptr(u)), ptr(b.ptr(dy)), ptr(b.ptr(dg)), ptr(b.ptr(du)), i64(n), ptr(0), ptr(0)]);
    return [dg, du];
  });
  reg('SilLseChunk', (b, { z, m, s, zt, targets }, at) => {
    const [N, C] = z.shape;
    const outs = [b.makeOutput([N], 'float32'), b.makeOutput([N], 'float32'), b.makeOutput([N], 'float32')];
    if (N > 0)
      b.device.launch('lse_chunk', rowGrid(N), BLOCK, [
        ptr(b.ptr(z)),
        ptr(b.ptr(m)),
        ptr(b.ptr(s)),
        ptr(b.ptr(zt)),
        ptr(b.ptr(targets)),
        i32(at.r0 as number),
        ...outs.map((o) => ptr(b.ptr(o))),
        i64(N),
        i32(C),
      ]);
    return outs;
  });
  reg('SilSegmentRowsSum', (b, { x, order, starts }) => {
    const R = starts.shape[0] - 1;
    const H = x.shape[1];
    const out = b.makeOutput([R, H], 'float32');
    if (R * H > 0) b.device.launch('segment_rows_sum', b.device.gridFor(R * H), BLOCK, [ptr(b.ptr(x)), ptr(b.ptr(order)), ptr(b.ptr(starts)), ptr(b.ptr(out)), i32(R), i32(H), ptr(0)]);
    return out;
  });
  reg('SilCeChunkGrad', (b, { z, lse, targets, scale }, at) => {
    const [N, C] = z.shape;
    const dz = b.makeOutput([N, C], 'float32');
    if (N * C > 0)
      b.device.launch('ce_chunk_grad', b.device.gridFor(N * C), BLOCK, [ptr(b.ptr(z)), ptr(b.ptr(lse)), ptr(b.ptr(targets)), i32(at.r0 as number), ptr(b.ptr(scale)), ptr(b.ptr(dz)), i64(N), i32(C)]);
    return dz;
  });
}

/** The model ops a backend may fuse (used through src/model/fused.ts; each named after the composite it replaces). */
export interface FusedOps {
  /** w ⊙ x / √(mean(x², last axis) + ε) */
  rmsNorm(x: tf.Tensor, w: tf.Tensor, eps: number): tf.Tensor;
  /**
   * x [B·T, heads·D] → [B, heads, T, D], with RoPE (rotate_half form, tables [T, D]) when `rope` is
   * given: transpose(reshape(x)) followed by `applyRope`
   */
  splitHeads(x: tf.Tensor, b: number, t: number, heads: number, d: number, rope?: { cos: tf.Tensor; sin: tf.Tensor }): tf.Tensor;
  /** [B, heads, T, D] → [B·T, heads·D] */
  mergeHeads(x: tf.Tensor): tf.Tensor;
  /** softmax(s · scale + mask) over the last axis; s [B, heads, T, T], mask [B, 1, T, T] additive (a constant) */
  maskedSoftmax(s: tf.Tensor, mask: tf.Tensor, scale: number): tf.Tensor;
  /** silu(g) ⊙ u */
  swiglu(g: tf.Tensor, u: tf.Tensor): tf.Tensor;
  /**
   * One vocabulary chunk's step of the running log-sum-exp: z [N, C] logits of head rows r0 … r0+C,
   * running max m, sum s and target logit zt [N] → the updated three (no gradient)
   */
  lseChunk(z: tf.Tensor2D, m: tf.Tensor1D, s: tf.Tensor1D, zt: tf.Tensor1D, targets: Int32Array, r0: number): [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
  /**
   * out[r] = Σ_{k ∈ [starts[r], starts[r+1])} x[order[k]] for x [N, H], in that order (the embedding
   * gradient's rows: order = positions grouped by token, ascending; no gradient)
   */
  rowsSum(x: tf.Tensor2D, order: Int32Array, starts: Int32Array): tf.Tensor2D;
  /**
   * The same row sums added in place into rows `rows` (distinct) of `sum`, a float32 [V·H] tensor
   * that nothing else shares (a gradient sum across passes): sum[rows[r]] += out[r], the same bits
   * as reading out back and adding it on the host
   */
  rowsSumInto(x: tf.Tensor2D, order: Int32Array, starts: Int32Array, rows: Int32Array, sum: tf.Tensor): void;
  /** rows ids[i] of an embedding table [V, H] on the backend (read as stored: BF16 halves widened exactly) → [n, H] (no gradient) */
  embedRows(table: tf.Tensor, ids: Int32Array): tf.Tensor2D;
  /** (exp(z − lse) − onehot(targets − r0)) · scale, z [N, C] (no gradient) */
  ceChunkGrad(z: tf.Tensor2D, lse: tf.Tensor1D, targets: Int32Array, r0: number, scale: tf.Tensor1D): tf.Tensor2D;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
function run(name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown> = {}): any {
  return tf.engine().runKernel(name, inputs as any, attrs as any);
}
/* eslint-enable @typescript-eslint/no-explicit-any */

type Args = Array<tf.Tensor | tf.GradSaveFunc>;

function rmsNorm(x: tf.Tensor, w: tf.Tensor, eps: number): tf.Tensor {
  return tf.customGrad((...args: Args) => {
    const [xx, ww, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const [y, r] = run('SilRmsNorm', { x: xx, w: ww }, { eps }) as tf.Tensor[];
    save([xx, ww, r]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sx, sw, sr] = saved;
        return run('SilRmsNormGrad', { x: sx, w: sw, dy: dy as tf.Tensor, r: sr }) as tf.Tensor[];
      },
    };
  })(x, w);
}

function splitHeads(x: tf.Tensor, b: number, t: number, heads: number, d: number, rope?: { cos: tf.Tensor; sin: tf.Tensor }): tf.Tensor {
  const dims = [b, t, heads, d];
  const tables: Record<string, tf.Tensor> = rope ? { cos: rope.cos, sin: rope.sin } : {};
  return tf.customGrad((...args: Args) => {
    const xx = args[0] as tf.Tensor;
    return {
      value: run('SilSplitHeads', { x: xx, ...tables }, { dims }) as tf.Tensor,
      gradFunc: (dy: tf.Tensor | tf.Tensor[]) => run('SilMergeHeads', { x: dy as tf.Tensor, ...tables }, { dims }) as tf.Tensor,
    };
  })(x);
}

function mergeHeads(x: tf.Tensor): tf.Tensor {
  const [b, heads, t, d] = x.shape as [number, number, number, number];
  const dims = [b, t, heads, d];
  return tf.customGrad((...args: Args) => {
    const xx = args[0] as tf.Tensor;
    return {
      value: run('SilMergeHeads', { x: xx }, { dims }) as tf.Tensor,
      gradFunc: (dy: tf.Tensor | tf.Tensor[]) => run('SilSplitHeads', { x: dy as tf.Tensor }, { dims }) as tf.Tensor,
    };
  })(x);
}

function maskedSoftmax(s: tf.Tensor, mask: tf.Tensor, scale: number): tf.Tensor {
  return tf.customGrad((...args: Args) => {
    const [ss, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const p = run('SilMaskedSoftmax', { s: ss, mask }, { scale }) as tf.Tensor;
    save([p]);
    return {
      value: p,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => run('SilMaskedSoftmaxGrad', { p: saved[0], dp: dy as tf.Tensor }, { scale }) as tf.Tensor,
    };
  })(s);
}

function swiglu(g: tf.Tensor, u: tf.Tensor): tf.Tensor {
  return tf.customGrad((...args: Args) => {
    const [gg, uu, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([gg, uu]);
    return {
      value: run('SilSwiglu', { g: gg, u: uu }) as tf.Tensor,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => run('SilSwigluGrad', { g: saved[0], u: saved[1], dy: dy as tf.Tensor }) as tf.Tensor[],
    };
  })(g, u);
}

function lseChunk(z: tf.Tensor2D, m: tf.Tensor1D, s: tf.Tensor1D, zt: tf.Tensor1D, targets: Int32Array, r0: number): [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D] {
  const t = tf.tensor1d(targets, 'int32');
  try {
    return run('SilLseChunk', { z, m, s, zt, targets: t }, { r0 }) as [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
  } finally {
    t.dispose();
  }
}

function rowsSum(x: tf.Tensor2D, order: Int32Array, starts: Int32Array): tf.Tensor2D {
  const o = tf.tensor1d(order, 'int32');
  const s = tf.tensor1d(starts, 'int32');
  try {
    return run('SilSegmentRowsSum', { x, order: o, starts: s }) as tf.Tensor2D;
  } finally {
    tf.dispose([o, s]);
  }
}

function rowsSumInto(x: tf.Tensor2D, order: Int32Array, starts: Int32Array, rows: Int32Array, sum: tf.Tensor): void {
  const b = tf.backend() as CudaBackend;
  const R = starts.length - 1;
  const H = x.shape[1];
  if (rows.length !== R) throw new Error(`rowsSumInto: ${rows.length} destination rows for ${R} segments`);
  if (R * H === 0) return;
  const ints = [order, starts, rows].map((a) => tf.tensor1d(a, 'int32'));
  try {
    const [o, s, d] = ints.map((t) => b.ptr(t as unknown as tf.TensorInfo));
    const target = b.mutablePtr(sum as unknown as tf.TensorInfo);
    b.device.launch('segment_rows_sum', b.device.gridFor(R * H), BLOCK, [ptr(b.ptr(x as unknown as tf.TensorInfo)), ptr(o), ptr(s), ptr(target), i32(R), i32(H), ptr(d)]);
  } finally {
    tf.dispose(ints);
  }
}

function embedRows(table: tf.Tensor, ids: Int32Array): tf.Tensor2D {
  const b = tf.backend() as CudaBackend;
  const H = table.shape[1] as number;
  const d = b.get(table.dataId);
  const out = b.makeOutput([ids.length, H], 'float32');
  if (ids.length * H > 0) {
    const idx = tf.tensor1d(ids, 'int32');
    try {
      // a BF16 checkpoint's table is its stored halves (no float32 words made): widened here, exactly
      const halves = d.ptr === 0 ? d.half : 0;
      b.device.launch('embed_rows', b.device.gridFor(ids.length * H), BLOCK, [
        ptr(halves),
        ptr(halves ? 0 : b.ptr(table as unknown as tf.TensorInfo)),
        ptr(b.ptr(idx as unknown as tf.TensorInfo)),
        ptr(b.ptr(out)),
        i64(ids.length),
        i32(H),
      ]);
    } finally {
      idx.dispose();
    }
  }
  return tf.engine().makeTensorFromTensorInfo(out) as tf.Tensor2D;
}

function ceChunkGrad(z: tf.Tensor2D, lse: tf.Tensor1D, targets: Int32Array, r0: number, scale: tf.Tensor1D): tf.Tensor2D {
  const t = tf.tensor1d(targets, 'int32');
  try {
    return run('SilCeChunkGrad', { z, lse, targets: t, scale }, { r0 }) as tf.Tensor2D;
  } finally {
    t.dispose();
  }
}

/** The model ops over the fused kernels (src/model/fused.ts hands them to the model on the cuda backend). */
export const cudaFusedOps: FusedOps = { rmsNorm, splitHeads, mergeHeads, maskedSoftmax, swiglu, lseChunk, ceChunkGrad, rowsSum, rowsSumInto, embedRows };

/** For tests and profiles: the backend's count of kernels it launched so far, when it counts them. */
export function launchCount(b: CudaBackend): number {
  const d = b.device as unknown as { launches?: number | Record<string, number> };
  if (typeof d.launches === 'number') return d.launches;
  return d.launches ? Object.values(d.launches).reduce((a, x) => a + x, 0) : 0;
}
