/**
 * `sil delta --base DIR --attacked DIR --out DIR`: per-tensor statistics of Δ = attacked − base,
 * rolled up per layer × module kind and per kind (docs/run-folder.md). The output folder is built
 * in a temporary sibling and moved into place only when everything succeeded.
 */
import * as path from 'node:path';
import type { Command } from 'commander';
import { load } from './lazy';
import type { Checkpoint } from '../io/checkpoint';
import { SilError } from '../errors';
import { threadsOption } from '../options';
import { withAtomicDir } from '../io/atomic';
import { claimOutput, prepareOutputDir, writeMarker } from '../io/outpath';
import { parseSize } from '../io/writer';
import { progressFor } from '../progress';

interface DeltaCliOptions {
  base: string;
  attacked: string;
  out: string;
  saveAbsDelta?: boolean;
  maxShardSize: string;
  json?: boolean;
  force?: boolean;
  threads?: string;
  kernel: string;
}

export async function runDelta(o: DeltaCliOptions): Promise<void> {
  const threads = threadsOption(o.threads, 0);
  if (o.kernel !== 'simd' && o.kernel !== 'js') throw new SilError('INVALID_ARGUMENT', `--kernel must be simd or js, got ${JSON.stringify(o.kernel)}`);
  const kernel = o.kernel;
  parseSize(o.maxShardSize);
  const out = prepareOutputDir({ out: o.out, kind: 'dir', inputs: [o.base, o.attacked], force: o.force });
  const release = claimOutput(out.path, 'delta');
  try {
    await deltaInto(o, out.path, out.replace, threads, kernel);
  } finally {
    release();
  }
}

async function deltaInto(o: DeltaCliOptions, outPath: string, replace: boolean, threads: number, kernel: 'simd' | 'js'): Promise<void> {
  const t0 = process.hrtime.bigint();
  const io = load<typeof import('../io/checkpoint')>('../io/checkpoint');
  const { checkComparable } = load<typeof import('../delta/compute')>('../delta/compute');
  const { writeDeltaFolder } = load<typeof import('../delta/folder')>('../delta/folder');
  const { humanSummary } = load<typeof import('../delta/report')>('../delta/report');
  const base = io.Checkpoint.open(o.base);
  let attacked: Checkpoint | null = null;
  try {
    attacked = io.Checkpoint.open(o.attacked);
    checkComparable(base, attacked);
    const ck = attacked;
    const summary = await withAtomicDir(
      outPath,
      async (tmp) => {
        const s = await writeDeltaFolder(base, ck, tmp, {
          threads,
          kernel,
          saveAbsDelta: !!o.saveAbsDelta,
          maxShardSize: o.maxShardSize,
          progress: progressFor(process.stderr, !o.json),
          paths: { base: o.base, attacked: o.attacked },
          t0,
        });
        writeMarker(tmp, 'delta');
        return s;
      },
      replace,
    );
    if (o.json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
    else {
      process.stdout.write(humanSummary(summary));
      process.stdout.write(`wrote ${path.resolve(o.out)}/{tensors,layers,kinds}.csv, summary.json${o.saveAbsDelta ? ', abs_delta/' : ''}\n`);
    }
    if (!o.json) for (const w of summary.warnings) process.stderr.write(`sil: warning: ${w}\n`);
  } finally {
    base.close();
    attacked?.close();
  }
}

export function registerDelta(program: Command): void {
  program
    .command('delta')
    .description('Per-tensor statistics of Δ = attacked − base (L1, L2, max/mean |Δ|, ‖Δ‖/‖W‖, fraction changed, NaN/Inf), rolled up per layer and module kind')
    .requiredOption('--base <dir>', 'aligned checkpoint (folder with config.json + safetensors, or one .safetensors file)')
    .requiredOption('--attacked <dir>', 'fine-tuned (attacked) checkpoint with the same tensors')
    .requiredOption('--out <dir>', 'output folder (tensors.csv, layers.csv, kinds.csv, summary.json)')
    .option('--save-abs-delta', 'also write |Δ| as F32 safetensors under the checkpoint tensor names (OUT/abs_delta/)')
    .option('--max-shard-size <size>', 'shard size for --save-abs-delta (e.g. 5GB, 500MB)', '5GB')
    .option('--json', 'print the JSON summary on stdout instead of the human summary (no progress bar)')
    .option('--force', 'replace an output folder that sil wrote before')
    .option('--threads <n>', 'worker threads (default: all cores; 0 = run on the main thread)')
    .option('--kernel <simd|js>', 'BF16 kernel: WebAssembly SIMD, or the plain JS loop (same results)', 'simd')
    .action(async (opts: DeltaCliOptions) => {
      await runDelta(opts);
    });
}
