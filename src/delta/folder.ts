/**
 * Writes the Δ statistics of a checkpoint pair into a folder (tensors.csv, layers.csv, kinds.csv,
 * summary.json, optionally abs_delta/): what `sil delta --out` writes, and what `sil locate` writes
 * under its run folder's `delta/`. The caller makes the folder atomic.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Progress } from '../progress';
import { type Checkpoint } from '../io/checkpoint';
import { computeDelta } from './compute';
import { type KernelChoice } from './job';
import { type DeltaSummary, renderDeltaFiles, summarize } from './report';
import { SIL_VERSION } from '../version';

export interface DeltaFolderOptions {
  threads: number;
  kernel: KernelChoice;
  saveAbsDelta: boolean;
  maxShardSize: string;
  progress: Progress;
  /** the checkpoints' paths as the user gave them (recorded resolved) */
  paths: { base: string; attacked: string };
  /** hrtime at the start of the command, for the summary's timing */
  t0: bigint;
}

export async function writeDeltaFolder(base: Checkpoint, attacked: Checkpoint, dir: string, o: DeltaFolderOptions): Promise<DeltaSummary> {
  fs.mkdirSync(dir, { recursive: true });
  const result = await computeDelta(base, attacked, {
    threads: o.threads,
    absDeltaDir: o.saveAbsDelta ? path.join(dir, 'abs_delta') : undefined,
    maxShardSize: o.maxShardSize,
    progress: o.progress,
    kernel: o.kernel,
  });
  const summary = summarize(result, {
    base: { path: path.resolve(o.paths.base), header_sha256: base.headerSha256() },
    attacked: { path: path.resolve(o.paths.attacked), header_sha256: attacked.headerSha256() },
    options: { threads: o.threads, kernel: o.kernel, save_abs_delta: o.saveAbsDelta, max_shard_size: o.maxShardSize },
    version: SIL_VERSION,
    created: new Date().toISOString(),
    seconds: Number(process.hrtime.bigint() - o.t0) / 1e9,
  });
  const files = await renderDeltaFiles(result, summary);
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return summary;
}
