/**
 * One mask of a locate run: select from a score stream (src/select/stream.ts), write
 * `masks/<name>.safetensors` with one 0/1 tensor per checkpoint tensor (out-of-scope tensors all
 * 0), and feed the per layer × kind cells (layers.csv) and per-unit regions (regions.csv) from the
 * same pass that emits the mask.
 */
import { describeTensor } from '../families';
import type { Checkpoint } from '../io/checkpoint';
import { LayerAccumulator } from '../mask/layers';
import { MaskEncoding, MaskWriter } from '../mask/maskfile';
import { RegionAccumulator, TensorRegions, unitLayout } from '../mask/regions';
import type { ScoredTensor } from '../score/pair';
import type { Per } from '../select/local';
import { ChunkSource, selectMasks, SelectionResult } from '../select/stream';

export interface MaskRun {
  selection: SelectionResult;
  /** Σ γ over the written mask */
  selected: number;
  layers: LayerAccumulator;
  regions: TensorRegions[];
}

export interface MaskJob {
  base: Checkpoint;
  source: ChunkSource<ScoredTensor>;
  frac: number;
  per: Per;
  file: string;
  encoding: MaskEncoding;
  metadata: Record<string, string>;
  headDim: number;
  /** accumulate regions (skipped for baselines) */
  regions: boolean;
}

/** Selects, writes the mask file (atomically) and returns the aggregates. */
export function selectAndWrite(job: MaskJob): MaskRun {
  const { base } = job;
  const arch = base.architecture;
  const all = base.names().map((name) => ({ name, shape: base.info(name).shape }));
  const writer = new MaskWriter(job.file, all, job.encoding, job.metadata);
  const layers = new LayerAccumulator();
  const regions: TensorRegions[] = [];
  const regionOf = new Map<string, RegionAccumulator>();
  let selected = 0;
  try {
    let current: { t: ScoredTensor; data: Uint8Array; filled: number } | null = null;
    const written = new Set<string>();
    const selection = selectMasks(job.source, job.frac, job.per, (t, start, scores, mask) => {
      if (!current || current.t !== t) current = { t, data: new Uint8Array(t.numel), filled: 0 };
      current.data.set(mask, start);
      current.filled += mask.length;
      const role = describeTensor(arch, t.name);
      layers.add(role.layer, role.kind, scores, mask);
      if (job.regions) {
        let acc = regionOf.get(t.name);
        if (!acc) {
          acc = new RegionAccumulator(unitLayout(role, t.shape, job.headDim), t.shape);
          regionOf.set(t.name, acc);
          regions.push({ tensor: t.name, layer: role.layer, kind: role.kind, acc });
        }
        acc.add(start, scores, mask);
      }
      for (let i = 0; i < mask.length; i++) selected += mask[i];
      if (current.filled === t.numel) {
        writer.write(t.name, current.data);
        written.add(t.name);
        current = null;
      }
    });
    for (const t of all) {
      if (written.has(t.name)) continue;
      const n = t.shape.reduce((a, b) => a * b, 1);
      writer.write(t.name, new Uint8Array(n));
    }
    writer.close();
    return { selection, selected, layers, regions };
  } catch (e) {
    writer.abort();
    throw e;
  }
}
