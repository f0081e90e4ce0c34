/**
 * The embedding step of a streamed pass: ∂E[v] = Σ_{n: ids[n]=v} ∂h₀[n], gathered on the host by
 * vocabulary chunks, plus the head's ∂W_c = Σ_groups ∂z_cᵀ hn when the head is the tied embedding.
 * With a device sink and an untied embedding, the `rowSink` may take the non-zero rows only.
 */
import * as tf from '@tensorflow/tfjs';
import { EMBED } from '../model/names';
import { modelOps } from '../model/ops';
import { chunkLogitGrad, chunkWeightGrad } from './head';
import type { HeadState } from './headpass';
import { addInto, type StreamPass } from './pass';

/** ∂h₀ of the whole batch on the host, from every group's (rows of sequences without labels stay 0); the tensors are freed. */
async function gatherInputGrads(pass: StreamPass, dys: readonly tf.Tensor[]): Promise<Float32Array> {
  const H = pass.cfg.hiddenSize;
  const dh0 = new Float32Array(pass.pb.batch * pass.pb.seqLen * H);
  for (let k = 0; k < pass.groups.length; k++) {
    dh0.set((await dys[k].data()) as Float32Array, pass.groups[k].row0 * H);
    dys[k].dispose();
  }
  return dh0;
}

/**
 * The untied embedding's non-zero rows summed on the backend (a backend's `rowsSum`): the same rows
 * and the same float32 sums, in the same order (positions ascending), as the host loop below, with
 * only those rows read back instead of all of ∂h₀ and no host loop over it; or, with the pass's
 * `deviceRowSums`, added into the embedding's sum on the backend with nothing read back.
 */
async function rowsOnBackend(pass: StreamPass, dys: readonly tf.Tensor[], ops: ReturnType<typeof modelOps>): Promise<void> {
  const { pb, groups } = pass;
  const rows = Int32Array.from(new Set(pb.ids)).sort();
  const at = new Map<number, number>();
  rows.forEach((v, k) => at.set(v, k));
  // the groups' rows in batch order: x row k is position pos[k] of the batch
  const pos: number[] = [];
  for (const g of groups) for (let j = 0; j < g.n; j++) pos.push(g.row0 + j);
  const starts = new Int32Array(rows.length + 1);
  for (const n of pos) starts[at.get(pb.ids[n])! + 1]++;
  for (let r = 0; r < rows.length; r++) starts[r + 1] += starts[r];
  const fill = starts.slice(0, rows.length);
  const order = new Int32Array(pos.length);
  pos.forEach((n, k) => (order[fill[at.get(pb.ids[n])!]++] = k));
  const x = (groups.length === 1 ? dys[0] : tf.concat(dys as tf.Tensor[], 0)) as tf.Tensor2D;
  try {
    // added into a sum kept on the backend (no read-back, no host loop), or read back to the row sink
    const into = ops.rowsSumInto ? pass.deviceRowSums?.(EMBED) : undefined;
    if (into) ops.rowsSumInto!(x, order, starts, rows, into);
    else {
      const g = ops.rowsSum!(x, order, starts);
      const data = (await g.data()) as Float32Array;
      g.dispose();
      await pass.rowSink!(EMBED, rows, data);
    }
  } finally {
    if (groups.length !== 1) x.dispose();
    tf.dispose(dys as tf.Tensor[]);
  }
}

/** The embedding's gradient (and a tied head's) from ∂h₀ of every group (`dys`, freed), to the sinks. */
export async function embeddingGrads(pass: StreamPass, dys: readonly tf.Tensor[], head: HeadState, scales: readonly tf.Tensor1D[]): Promise<void> {
  const { cfg, pb, groups, device } = pass;
  const H = cfg.hiddenSize;
  const V = cfg.vocabSize;
  const N = pb.batch * pb.seqLen;
  const C = pass.plan.vocabChunk;
  const ops = modelOps();
  if (device && pass.rowSink && !cfg.tieWordEmbeddings && ops.rowsSum) {
    await rowsOnBackend(pass, dys, ops);
    return;
  }
  const dh0 = await gatherInputGrads(pass, dys);
  if (device && pass.rowSink && !cfg.tieWordEmbeddings) {
    const rows = Int32Array.from(new Set(pb.ids)).sort();
    const at = new Map<number, number>();
    rows.forEach((v, k) => at.set(v, k));
    const g = new Float32Array(rows.length * H);
    for (let n = 0; n < N; n++) {
      const dst = at.get(pb.ids[n])! * H;
      const s = n * H;
      for (let j = 0; j < H; j++) g[dst + j] += dh0[s + j];
    }
    await pass.rowSink(EMBED, rows, g);
    return;
  }
  for (let r0 = 0; r0 < V; r0 += C) {
    const r1 = Math.min(V, r0 + C);
    let dw: tf.Tensor | null = null;
    if (cfg.tieWordEmbeddings) {
      const c = pass.headChunk(EMBED, r0, r1);
      for (let k = 0; k < groups.length; k++) {
        const dz = chunkLogitGrad(head.hns[k], c, head.lses[k], groups[k].pb.targets, scales[k]);
        dw = addInto(dw, chunkWeightGrad(dz, head.hns[k]));
        tf.dispose([dz]);
      }
      pass.freeChunk(c);
    }
    // rows gathered on the host: ∂E[v] += ∂h₀[n] for every position n with ids[n] = v
    const g = dw && !device ? ((await dw.data()) as Float32Array) : new Float32Array((r1 - r0) * H);
    if (dw && !device) dw.dispose();
    for (let n = 0; n < N; n++) {
      const v = pb.ids[n];
      if (v < r0 || v >= r1) continue;
      const dst = (v - r0) * H;
      const s = n * H;
      for (let j = 0; j < H; j++) g[dst + j] += dh0[s + j];
    }
    if (dw && device) {
      const d = dw;
      await device(
        EMBED,
        r0 * H,
        tf.tidy(() => tf.add(d, tf.tensor2d(g, [r1 - r0, H]))),
      );
      d.dispose();
    } else await pass.sink(EMBED, r0 * H, g);
  }
}
