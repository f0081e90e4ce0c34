/**
 * Set-difference masks for `sil locate --setdiff` (Wei et al. 2024 §2.2): per weight matrix W,
 *
 *   γ_W = top-q(safety score of W) \ top-p(utility score of W)
 *
 * with the safety score the chosen `--score` on a language's harmful calibration set and the
 * utility score the same score on the benign set (src/score/setdiff.ts). Each in-scope tensor is
 * scored whole (two tensors of scores in memory at a time), the mask written, and the layers /
 * regions aggregates fed with the safety scores, as `selectAndWrite` does for top-k masks.
 * Tensors that count with score 0 (biases) are never selected.
 */
import type { ScoredTensor } from '../score/pair';
import { setDifferenceMask } from '../score/setdiff';
import { kOf } from '../select/bits';
import { type MaskJob, type MaskRun, writeMaskRun } from './masks';
import { scoreRange, type ScoreInputs } from './scores';

export interface SetDifferenceJob extends Omit<MaskJob, 'source' | 'frac' | 'per'> {
  tensors: readonly ScoredTensor[];
  safety: ScoreInputs;
  utility: ScoreInputs;
  q: number;
  p: number;
}

export function setDifferenceAndWrite(job: SetDifferenceJob): MaskRun {
  return writeMaskRun(job, (sink) => {
    let k = 0;
    let n = 0;
    for (const t of job.tensors) {
      const s = scoreRange(job.safety, t, 0, t.numel);
      const mask = t.part === 'zero' ? new Uint8Array(t.numel) : setDifferenceMask(s, scoreRange(job.utility, t, 0, t.numel), job.q, job.p);
      if (t.part !== 'zero') k += kOf(job.q, t.numel);
      n += t.numel;
      sink.feed(t, 0, s, mask);
      sink.write(t.name, mask);
    }
    // k here is Σ_W round(q·numel_W): the size before the utility set is taken away
    return { per: 'tensor', n, k, passes: 1 };
  });
}
