/**
 * One mask of a locate run: select from a score stream (src/select/stream.ts), write
 * `masks/<name>.safetensors` with one 0/1 tensor per checkpoint tensor (out-of-scope tensors all
 * 0), and feed the per layer × kind cells (layers.csv) and per-unit regions (regions.csv) from the
 * same pass that emits the mask.
 */
import { describeTensor } from '../families';
import type { Checkpoint } from '../io/checkpoint';
import { LayerAccumulator } from '../mask/layers';
import { type MaskEncoding, MaskWriter } from '../mask/maskfile';
import { RegionAccumulator, type TensorRegions, unitLayout } from '../mask/regions';
import type { ScoredTensor } from '../score/pair';
import type { Per } from '../select/local';
import { type ChunkSource, type HistogramProvider, selectMasksWith, type SelectionResult, type SourceTensor } from '../select/stream';
import type { Progress } from '../progress';
import { countOnes } from '../mask/words';

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
  /** one bar per traversal of the scores (histogram passes, then the pass that emits the mask) */
  progress?: Progress;
  /** the mask's name in the progress label */
  label?: string;
}

/**
 * The source, reporting each traversal of its scores as a progress bar of its own, in elements
 * (a global selection reads the scores two or three times: histogram, boundary bin, emit).
 */
export function withPassProgress<T extends SourceTensor>(src: ChunkSource<T>, progress: Progress, label: string): ChunkSource<T> & { end(): void } {
  const n = src.tensors.reduce((a, t) => a + t.numel, 0);
  let pass = 0;
  let seen = n;
  return {
    tensors: src.tensors,
    *chunks(t: T) {
      if (seen >= n && t === src.tensors[0]) {
        if (pass > 0) progress.stop();
        pass++;
        seen = 0;
        progress.start(n, `${label}: pass ${pass} over the scores`);
      }
      for (const c of src.chunks(t)) {
        yield c;
        seen += c.length;
        progress.tick(c.length);
      }
    },
    end() {
      if (pass > 0) progress.stop();
    },
  };
}

/** Where the masks of a job go as they are emitted: the mask file and the aggregates. */
export interface MaskSink {
  /** Feeds elements [start, start + mask.length) of `t` (scores and mask) to layers, regions and the selected count. */
  feed(t: ScoredTensor, start: number, scores: Float32Array, mask: Uint8Array): void;
  /** Writes the whole mask of a tensor; tensors never written are written all 0. */
  write(name: string, data: Uint8Array): void;
}

/** A mask file being written with its aggregates: feed it through `sink`, then `finish` or `abort`. */
interface OpenMaskRun {
  sink: MaskSink;
  /** writes the tensors never written as all 0, closes the file, returns the aggregates */
  finish(selection: SelectionResult): MaskRun;
  abort(): void;
}

function openMaskRun(job: Omit<MaskJob, 'source' | 'frac' | 'per'>): OpenMaskRun {
  const { base } = job;
  const arch = base.architecture;
  const all = base.names().map((name) => ({ name, shape: base.info(name).shape }));
  const writer = new MaskWriter(job.file, all, job.encoding, job.metadata);
  const layers = new LayerAccumulator();
  const regions: TensorRegions[] = [];
  const regionOf = new Map<string, RegionAccumulator>();
  const written = new Set<string>();
  let selected = 0;
  return {
    sink: {
      feed(t, start, scores, mask) {
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
        selected += countOnes(mask);
      },
      write(name, data) {
        writer.write(name, data);
        written.add(name);
      },
    },
    finish(selection) {
      for (const t of all) {
        if (written.has(t.name)) continue;
        const n = t.shape.reduce((a, b) => a * b, 1);
        writer.write(t.name, new Uint8Array(n));
      }
      writer.close();
      return { selection, selected, layers, regions };
    },
    abort: () => writer.abort(),
  };
}

/**
 * Opens the mask file of `job`, lets `emit` feed and write the masks, writes the tensors it left
 * out as all 0 and closes the file (aborted on error); returns the aggregates with `emit`'s selection.
 */
export function writeMaskRun(job: Omit<MaskJob, 'source' | 'frac' | 'per'>, emit: (sink: MaskSink) => SelectionResult): MaskRun {
  const run = openMaskRun(job);
  try {
    return run.finish(emit(run.sink));
  } catch (e) {
    run.abort();
    throw e;
  }
}

/**
 * Selects, writes the mask file (atomically) and returns the aggregates. With `hist`, the
 * histogram passes of a global selection come from it (worker threads, histpool.ts).
 */
export async function selectAndWrite(job: MaskJob & { hist?: HistogramProvider }): Promise<MaskRun> {
  const run = openMaskRun(job);
  const source = job.progress && job.per === 'global' ? withPassProgress(job.source, job.progress, `selection ${job.label ?? ''}`.trim()) : job.source;
  try {
    let current: { t: ScoredTensor; data: Uint8Array; filled: number } | null = null;
    const selection = await selectMasksWith(
      source,
      job.frac,
      job.per,
      (t, start, scores, mask) => {
        if (!current || current.t !== t) current = { t, data: new Uint8Array(t.numel), filled: 0 };
        current.data.set(mask, start);
        current.filled += mask.length;
        run.sink.feed(t, start, scores, mask);
        if (current.filled === t.numel) {
          run.sink.write(t.name, current.data);
          current = null;
        }
      },
      job.hist,
    );
    (source as { end?: () => void }).end?.();
    return run.finish(selection);
  } catch (e) {
    run.abort();
    throw e;
  }
}
