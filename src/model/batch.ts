/**
 * A batch of token sequences, as the fixtures' golden.json and `sil grad --batch` carry it:
 * `input_ids`, `attention_mask` (1 = token, 0 = padding; right padding) and `labels` (−100 = no
 * loss), each B×T. `prepareBatch` validates it and derives what the model needs:
 * - the causal shift: the logits at t predict token t+1, so target[t] = labels[t+1] and the last
 *   position has none (−1 here, which one-hot encodes to a zero row);
 * - the additive attention mask [B, 1, T, T]: 0 where key j ≤ query i and attention_mask[j] = 1,
 *   −1e9 elsewhere (a padded query still sees the real tokens before it, as in transformers).
 */
import { SilError } from '../errors';

export interface Batch {
  input_ids: number[][];
  attention_mask?: number[][];
  labels: number[][];
}

export interface PreparedBatch {
  batch: number;
  seqLen: number;
  /** [B·T] token ids */
  ids: Int32Array;
  /** [B·T] shifted targets, −1 where there is none */
  targets: Int32Array;
  /** number of positions with a target */
  count: number;
  /** [B, 1, T, T] additive mask */
  mask: Float32Array;
}

export const MASKED = -1e9;

function matrix(b: Batch, key: keyof Batch, rows: number, cols: number): number[][] {
  const m = b[key];
  if (!Array.isArray(m) || m.length !== rows || m.some((r) => !Array.isArray(r) || r.length !== cols)) {
    throw new SilError('INVALID_DATA', `batch "${key}" must be a ${rows}×${cols} array of integers like input_ids`);
  }
  for (const r of m) for (const v of r) if (!Number.isInteger(v)) throw new SilError('INVALID_DATA', `batch "${key}" holds a non-integer ${JSON.stringify(v)}`);
  return m;
}

export function prepareBatch(b: Batch, vocabSize: number): PreparedBatch {
  if (!b || typeof b !== 'object' || !Array.isArray(b.input_ids) || b.input_ids.length === 0 || !Array.isArray(b.input_ids[0])) {
    throw new SilError('INVALID_DATA', 'batch must have "input_ids": a non-empty array of token id arrays');
  }
  const B = b.input_ids.length;
  const T = b.input_ids[0].length;
  if (T === 0) throw new SilError('INVALID_DATA', 'batch sequences are empty');
  const ids = matrix(b, 'input_ids', B, T);
  const am = b.attention_mask === undefined ? ids.map((r) => r.map(() => 1)) : matrix(b, 'attention_mask', B, T);
  const labels = matrix(b, 'labels', B, T);
  const out: PreparedBatch = {
    batch: B,
    seqLen: T,
    ids: new Int32Array(B * T),
    targets: new Int32Array(B * T).fill(-1),
    count: 0,
    mask: new Float32Array(B * T * T),
  };
  for (let i = 0; i < B; i++) {
    for (let t = 0; t < T; t++) {
      const id = ids[i][t];
      if (id < 0 || id >= vocabSize) throw new SilError('INVALID_DATA', `input_ids[${i}][${t}] = ${id} is outside the vocabulary [0, ${vocabSize})`);
      if (am[i][t] !== 0 && am[i][t] !== 1) throw new SilError('INVALID_DATA', `attention_mask[${i}][${t}] = ${am[i][t]} must be 0 or 1`);
      const lab = labels[i][t];
      if (lab !== -100 && (lab < 0 || lab >= vocabSize)) throw new SilError('INVALID_DATA', `labels[${i}][${t}] = ${lab} must be −100 or in [0, ${vocabSize})`);
      out.ids[i * T + t] = id;
      if (t > 0 && lab !== -100) {
        out.targets[i * T + t - 1] = lab;
        out.count++;
      }
    }
    // row q of sequence i: the keys' padding pattern up to q, masked after it
    const keys = Float32Array.from(am[i], (a) => (a === 1 ? 0 : MASKED));
    for (let q = 0; q < T; q++) {
      const row = (i * T + q) * T;
      out.mask.set(keys.subarray(0, q + 1), row);
      out.mask.fill(MASKED, row + q + 1, row + T);
    }
  }
  return out;
}

/** Sequences lo…hi−1 of a prepared batch (views, no copies); `count` is theirs. */
export function slicePrepared(pb: PreparedBatch, lo: number, hi: number): PreparedBatch {
  const T = pb.seqLen;
  const targets = pb.targets.subarray(lo * T, hi * T);
  let count = 0;
  for (let n = 0; n < targets.length; n++) if (targets[n] >= 0) count++;
  return { batch: hi - lo, seqLen: T, ids: pb.ids.subarray(lo * T, hi * T), targets, count, mask: pb.mask.subarray(lo * T * T, hi * T * T) };
}

/** Examples lo…hi−1 of a batch, as a batch. */
export function sliceBatch(b: Batch, lo: number, hi: number): Batch {
  return {
    input_ids: b.input_ids.slice(lo, hi),
    attention_mask: b.attention_mask?.slice(lo, hi),
    labels: b.labels.slice(lo, hi),
  };
}
