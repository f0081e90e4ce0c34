/**
 * The head steps of a streamed pass, over vocabulary chunks (the chunk math is head.ts):
 *
 *   loss      hn = rmsnorm(h_L; w_norm) per group; the online log-sum-exp over the head's chunks
 *             gives lse and the loss Σ valid (lse − z_target) / denominator (read back when
 *             needed: `readLoss`, a wait for the GPU)
 *   backward  ∂hn = Σ_c ∂z_c W_c and ∂W_c = Σ_groups ∂z_cᵀ hn (lm_head's rows, to the sink chunk by
 *             chunk; a tied head's are the embedding step's), then the final norm's VJP:
 *             ∂h_L per group and ∂w_norm summed over the groups
 */
import * as tf from '@tensorflow/tfjs';
import { headWeightName } from '../model/model';
import { FINAL_NORM, LM_HEAD } from '../model/names';
import { modelOps } from '../model/ops';
import { chunkInputGrad, chunkLogitGrad, ChunkedLse, chunkWeightGrad, validWeights } from './head';
import { addInto, drain, type StreamPass } from './pass';

/** What the head's loss step leaves for the backward and embedding steps. */
export interface HeadState {
  /** the final norm's weight (on the backend) */
  wNorm: tf.Tensor;
  /** rmsnorm(h_L) [n, H] and the log-sum-exp [n] per group */
  hns: tf.Tensor2D[];
  lses: tf.Tensor1D[];
  /** each group's loss, on the backend until `readLoss` */
  losses: tf.Scalar[];
}

/** The pass's loss: the groups' losses read back and summed in group order. */
export async function readLoss(head: HeadState): Promise<number> {
  let loss = 0;
  for (const l of head.losses) loss += (await l.data())[0];
  return loss;
}

/** The loss of the pass from the last hidden states hLs (one per group), left on the backend (`readLoss`). */
export async function headLoss(pass: StreamPass, hLs: readonly tf.Tensor2D[]): Promise<HeadState> {
  const { cfg, groups, w } = pass;
  const V = cfg.vocabSize;
  const C = pass.plan.vocabChunk;
  const headName = headWeightName(cfg);
  w.loadNames([FINAL_NORM]);
  const wNorm = w.get(FINAL_NORM);
  const hns = hLs.map((hL) => pass.track(tf.tidy(() => modelOps().rmsNorm(hL, wNorm, cfg.rmsNormEps)) as tf.Tensor2D));
  const lseAcc = groups.map((g) => new ChunkedLse(g.n));
  for (let r0 = 0; r0 < V; r0 += C) {
    const c = pass.headChunk(headName, r0, Math.min(V, r0 + C));
    groups.forEach((g, k) => lseAcc[k].add(hns[k], c, g.pb.targets));
    pass.freeChunk(c);
  }
  const lses: tf.Tensor1D[] = [];
  const losses: tf.Scalar[] = [];
  for (let k = 0; k < groups.length; k++) {
    const r = lseAcc[k].finish(groups[k].pb.targets, pass.denom);
    lses.push(pass.track(r.lse));
    losses.push(pass.track(r.loss));
  }
  return { wNorm, hns, lses, losses };
}

/**
 * The head's backward: lm_head's gradient to the sink (untied heads), the final norm's, and
 * ∂h_L per group (returned). `scales` (valid / denominator per group) are returned for the
 * embedding step.
 */
export async function headBackward(pass: StreamPass, hLs: readonly tf.Tensor2D[], head: HeadState): Promise<{ dys: tf.Tensor[]; scales: tf.Tensor1D[] }> {
  const { cfg, groups, w, device } = pass;
  const { hns, lses } = head;
  const G = groups.length;
  const H = cfg.hiddenSize;
  const V = cfg.vocabSize;
  const C = pass.plan.vocabChunk;
  const scales = groups.map((g) => pass.track(validWeights(g.pb.targets, pass.denom)));
  // tf.fill runs on the backend (a GPU fill); tf.zeros would upload a host array of zeros
  const dhns = groups.map((g) => pass.track(tf.fill([g.n, H], 0) as tf.Tensor2D));
  for (let r0 = 0; r0 < V; r0 += C) {
    const c = pass.headChunk(headWeightName(cfg), r0, Math.min(V, r0 + C));
    let dw: tf.Tensor | null = null;
    for (let k = 0; k < G; k++) {
      const dz = chunkLogitGrad(hns[k], c, lses[k], groups[k].pb.targets, scales[k]);
      const prev = dhns[k];
      dhns[k] = pass.track(tf.tidy(() => tf.add(prev, chunkInputGrad(dz, c))) as tf.Tensor2D);
      tf.dispose([prev]);
      if (!cfg.tieWordEmbeddings) dw = addInto(dw, chunkWeightGrad(dz, hns[k]));
      tf.dispose([dz]);
    }
    pass.freeChunk(c);
    if (dw) {
      if (device) await device(LM_HEAD, r0 * H, dw);
      else {
        const data = (await dw.data()) as Float32Array;
        dw.dispose();
        await pass.sink(LM_HEAD, r0 * H, data);
      }
    }
  }
  // tidy: the tape's own intermediates go; the two gradients are returned and kept
  const dys: tf.Tensor[] = [];
  let dNorm: tf.Tensor | null = null;
  for (let k = 0; k < G; k++) {
    const [dh, dn] = tf.tidy(() => tf.grads((x: tf.Tensor, g: tf.Tensor) => modelOps().rmsNorm(x, g, cfg.rmsNormEps))([hLs[k], head.wNorm], dhns[k]));
    tf.dispose([dhns[k]]);
    dys.push(pass.track(dh));
    dNorm = addInto(dNorm, dn);
  }
  if (!pass.shared) w.release([FINAL_NORM]);
  await drain(new Map([[FINAL_NORM, dNorm!]]), pass.sink, device);
  return { dys, scales };
}
