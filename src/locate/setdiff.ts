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
import { describeTensor } from '../families';
import { LayerAccumulator } from '../mask/layers';
import { MaskWriter } from '../mask/maskfile';
import { RegionAccumulator, TensorRegions, unitLayout } from '../mask/regions';
import type { ScoredTensor } from '../score/pair';
import { setDifferenceMask } from '../score/setdiff';
import { kOf } from '../select/bits';
import type { MaskJob, MaskRun } from './masks';
import { scoreRange, ScoreInputs } from './scores';

export interface SetDifferenceJob extends Omit<MaskJob, 'source' | 'frac' | 'per'> {
  tensors: readonly ScoredTensor[];
  safety: ScoreInputs;
  utility: ScoreInputs;
  q: number;
  p: number;
}

export function setDifferenceAndWrite(job: SetDifferenceJob): MaskRun {
  const { base } = job;
  const arch = base.architecture;
  const all = base.names().map((name) => ({ name, shape: base.info(name).shape }));
  const writer = new MaskWriter(job.file, all, job.encoding, job.metadata);
  const layers = new LayerAccumulator();
  const regions: TensorRegions[] = [];
  let selected = 0;
  let k = 0;
  let n = 0;
  try {
    const written = new Set<string>();
    for (const t of job.tensors) {
      const s = scoreRange(job.safety, t, 0, t.numel);
      const mask = t.part === 'zero' ? new Uint8Array(t.numel) : setDifferenceMask(s, scoreRange(job.utility, t, 0, t.numel), job.q, job.p);
      if (t.part !== 'zero') k += kOf(job.q, t.numel);
      n += t.numel;
      const role = describeTensor(arch, t.name);
      layers.add(role.layer, role.kind, s, mask);
      if (job.regions) {
        const acc = new RegionAccumulator(unitLayout(role, t.shape, job.headDim), t.shape);
        acc.add(0, s, mask);
        regions.push({ tensor: t.name, layer: role.layer, kind: role.kind, acc });
      }
      for (let i = 0; i < mask.length; i++) selected += mask[i];
      writer.write(t.name, mask);
      written.add(t.name);
    }
    for (const t of all) if (!written.has(t.name)) writer.write(t.name, new Uint8Array(t.shape.reduce((a, b) => a * b, 1)));
    writer.close();
    // k here is Σ_W round(q·numel_W): the size before the utility set is taken away
    return { selection: { per: 'tensor', n, k, passes: 1 }, selected, layers, regions };
  } catch (e) {
    writer.abort();
    throw e;
  }
}
