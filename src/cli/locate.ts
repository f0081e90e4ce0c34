/**
 * `sil locate --base B --attacked A --out reports/RUN [--langs en,it,…] …`: per-language safety
 * masks, their ∩/∪, benign and random baselines, overlap, layers, regions, manifest and summary
 * (docs/run-folder.md); see src/locate/run.ts. Without --base/--attacked it runs on weights/demo.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { withGpuOptions } from './gpu';
import * as path from 'node:path';
import type { Command } from 'commander';
import { SilError } from '../errors';
import { load } from './lazy';
import { BACKEND_CHOICES } from '../model/choices';
import type { LocateManifest } from '../locate/manifest';
import type { LocateOptions } from '../locate/options';
import { progressFor } from '../progress';

export async function runLocate(o: LocateOptions, commandLine?: string[]): Promise<LocateManifest> {
  const { resolveOptions } = load<typeof import('../locate/options')>('../locate/options');
  const { locate } = load<typeof import('../locate/run')>('../locate/run');
  const cfg = resolveOptions(o);
  cfg.commandLine = commandLine;
  // with --json the notes are in the manifest; what the run removed from the folder is said anyway
  const m = await locate(cfg, progressFor(process.stderr, !cfg.json), cfg.json ? (n) => process.stderr.write(`sil: note: ${n}\n`) : undefined);
  if (cfg.json) process.stdout.write(JSON.stringify(m, null, 2) + '\n');
  else {
    const langs = m.languages.map((l) => `${l} ${m.masks[l].selected}`).join(', ');
    process.stdout.write(
      `${m.options.score} masks, k = ${m.k} of the ${m.n_in_scope} in-scope parameters (--scope ${m.options.scope}; ${m.n_params} in all): ${langs}; ∩ ${m.masks.intersection.selected}, ∪ ${m.masks.union.selected}` +
        `${m.global_sir === null ? '' : `, global SIR ${m.global_sir.toFixed(4)}`} (${m.timings.total_s.toFixed(1)} s)\n` +
        `wrote ${path.resolve(cfg.out)}/{masks/,delta/,layers.csv,regions.csv,overlap.csv,manifest.json,summary.md}\n`,
    );
    for (const n of m.notes) process.stderr.write(`sil: note: ${n}\n`);
  }
  return m;
}

/**
 * `--replay MANIFEST`: checks the inputs' hashes, runs the manifest's options into `--out` (or a
 * temporary folder, removed afterwards) and compares every mask with the run's, byte for byte.
 */
export async function runReplay(manifestFile: string, out: string | undefined, json: boolean): Promise<void> {
  const { checkInputs, compareMasks, readManifest, replayOptions } = load<typeof import('../locate/replay')>('../locate/replay');
  const { resolveOptions } = load<typeof import('../locate/options')>('../locate/options');
  const { locate } = load<typeof import('../locate/run')>('../locate/run');
  const m = readManifest(manifestFile);
  const runDir = path.dirname(path.resolve(manifestFile));
  checkInputs(m, manifestFile);
  const dir = out ?? fs.mkdtempSync(path.join(os.tmpdir(), 'sil-replay-'));
  if (out === undefined) fs.rmSync(dir, { recursive: true });
  try {
    const cfg = resolveOptions(replayOptions(m, dir));
    cfg.commandLine = m.command_line ?? undefined;
    await locate(cfg, progressFor(process.stderr, !json));
    const cmp = compareMasks(m, runDir, dir);
    const bad = cmp.filter((c) => !c.identical);
    if (json) process.stdout.write(JSON.stringify({ manifest: path.resolve(manifestFile), identical: bad.length === 0, masks: cmp }, null, 2) + '\n');
    else process.stdout.write(`replay of ${manifestFile}: inputs unchanged; ${cmp.length - bad.length} of ${cmp.length} masks identical byte for byte (${cmp.map((c) => c.name).join(', ')})\n`);
    if (bad.length) {
      const what = bad.map((c) => `${c.name} (${c.differing < 0 ? 'missing or another size' : `${c.differing} byte(s) differ`})`).join(', ');
      throw new SilError('REPLAY_MISMATCH', `masks differ from the run's: ${what}`, { file: manifestFile });
    }
  } finally {
    if (out === undefined) fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function registerLocate(program: Command): void {
  withGpuOptions(program.command('locate'))
    .description('Per-language safety masks: gradient attribution at θpre (SIL/SNIP), Wanda, or |Δ|, exact top-k or set difference, ∩/∪, baselines, overlap, layers and regions')
    .option('--base <dir>', 'aligned checkpoint θpre (default: weights/demo/base)')
    .option('--attacked <dir>', 'attacked checkpoint θattacked (default: weights/demo/attacked)')
    .option('--out <dir>', 'run folder (e.g. reports/RUN); with --replay, where the replay is written (default: a temporary folder, removed)')
    .option('--replay <manifest>', 're-run a run from its manifest.json (same inputs, checked by hash, and options) and check that every mask comes out identical')
    .option('--langs <list>', 'languages, comma-separated (default: every language of the data)')
    .option('--data <source>', 'calibration data: FILE.jsonl, multijail:CSV or polyrefuse:DIR (default: data/probes.jsonl; data/demo-probes.jsonl on the demo pair)')
    .option('--responses <mode>', 'dataset | refusal | compliance | generate:<checkpoint>', 'compliance')
    .option('--system <prompt>', 'system prompt for every calibration example')
    .option('--score <name>', 'sil | snip | wanda | weightdiff | random', 'sil')
    .option('--reduce <how>', 'sil reduction: sum-abs (|Δ|⊙|Σ∇L|) | mean-abs ((1/n)Σ|Δ⊙∇L|)', 'sum-abs')
    .option('--scope <scope>', 'linear (projection matrices) | all (every tensor)', 'linear')
    .option('--k <fraction>', 'fraction selected, in (0, 1]', '0.2')
    .option('--per <unit>', 'global | tensor | row', 'global')
    .option('--benign <source>', 'benign prompts for the benign baseline (default: the benign prompts of --data, else the probe set)')
    .option('--no-benign', 'skip the benign baseline')
    .option('--grads <file>', 'gradient sums computed elsewhere (safetensors keyed by tensor names or grad/<name>; {lang} in the path for one file per language)')
    .option('--seed <n>', 'seed of the random baseline', '0')
    .option('--backend <name>', `TF.js backend: ${BACKEND_CHOICES.join('|')}`, 'auto')
    .option('--blas <mode>', 'wasm matrix products through the system BLAS (OpenBLAS, MKL, Accelerate, SIL_BLAS_LIB): auto (when found; default, or SIL_BLAS) | on | off')
    .option('--threads <n>', 'wasm worker threads (default: all cores)')
    .option('--stream <mode>', 'gradients layer-streamed: auto (when the model does not fit in memory, and on webgpu) | always', 'auto')
    .option('--batch-size <n>', 'examples per gradient pass', '16')
    .option('--limit <n>', 'at most N prompts per language')
    .option('--max-examples <n>', 'old name of --limit')
    .option('--max-length <n>', 'cut responses so an example has at most N tokens')
    .option('--max-new-tokens <n>', 'longest generated response for --responses generate:…', '32')
    .option('--regions <n>', 'top regions per language in regions.csv', '100')
    .option(
      '--setdiff <utility>',
      'set difference (Wei et al.): per weight matrix, top-q of the score minus top-p of the same score on utility data: benign (the benign set) or a data source with benign prompts',
    )
    .option('--q <fraction>', 'with --setdiff: fraction of each matrix taken by the safety score (default 0.05)')
    .option('--p <fraction>', 'with --setdiff: fraction of each matrix taken by the utility score and removed (default 0.05)')
    .option('--allow-nonfinite', 'score NaN/Inf elements of θpre and Δ 0 (recorded in the manifest) instead of refusing the checkpoints')
    .option('--bitpack', 'write masks bitpacked (8 entries per byte) instead of U8')
    .option('--force', 'replace the results of a run with other inputs or options in --out (caches and your own files are kept)')
    .option('--json', 'print the manifest as JSON (no progress bars)')
    .action(async (o: LocateOptions & { replay?: string }, cmd: Command) => {
      if (o.replay !== undefined) {
        const own = Object.keys(o).filter((k) => !['replay', 'out', 'json'].includes(k) && cmd.getOptionValueSource(k) === 'cli');
        if (own.length)
          throw new SilError('INVALID_ARGUMENT', `--replay takes its options from the manifest; drop ${own.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')}`);
        await runReplay(o.replay, o.out, !!o.json);
        return;
      }
      await runLocate(o, ['sil', ...process.argv.slice(2)]);
    });
}
