/**
 * `sil sweep --base B --attacked A --out RUN --data EVAL.jsonl [--methods …] [--ks …] [--lang en]
 * [--langs …] [--calibration FILE] [--limit N] [--max-new-tokens N] [--keep] [--force]`:
 * violation rate versus k for each method's mask stitched into the base; see src/sweep/sweep.ts.
 */
import type { Command } from 'commander';
import { load } from './lazy';
import { SilError } from '../errors';
import { intOption, listOption as list } from '../options';
import { BACKEND_HELP, backendChoice } from '../model/choices';
import { SWEEP_METHODS } from '../sweep/methods';
import { progressFor } from '../progress';

interface SweepCliOptions {
  base: string;
  attacked: string;
  out: string;
  data: string;
  methods: string;
  ks: string;
  lang: string;
  langs?: string;
  calibration?: string;
  limit?: string;
  maxNewTokens: string;
  batchSize: string;
  backend: string;
  threads?: string;
  seed: string;
  keep?: boolean;
  force?: boolean;
  json?: boolean;
}

const int = (name: string, v: string | undefined, min: number): number | undefined => intOption(`--${name}`, v, min);

export async function runSweep(o: SweepCliOptions): Promise<void> {
  const backend = backendChoice(o.backend);
  const ks = list(o.ks).map((k) => {
    const x = Number(k);
    if (!Number.isFinite(x)) throw new SilError('INVALID_ARGUMENT', `--ks: "${k}" is not a number`);
    return x;
  });
  const { sweep } = load<typeof import('../sweep/sweep')>('../sweep/sweep');
  const r = await sweep({
    base: o.base,
    attacked: o.attacked,
    out: o.out,
    data: o.data,
    methods: list(o.methods),
    ks,
    lang: o.lang,
    langs: o.langs === undefined ? undefined : list(o.langs),
    calibration: o.calibration,
    limit: int('limit', o.limit, 1),
    maxNewTokens: int('max-new-tokens', o.maxNewTokens, 1),
    batchSize: int('batch-size', o.batchSize, 1),
    backend,
    threads: int('threads', o.threads, 1),
    seed: int('seed', o.seed, 0),
    keep: o.keep,
    force: o.force,
    progress: progressFor(process.stderr, !o.json),
    log: o.json ? undefined : (l) => process.stderr.write(`sil sweep: ${l}\n`),
  });
  if (o.json) {
    process.stdout.write(JSON.stringify({ k_sweep: r.kSweepCsv, figure: r.figure, points: r.points }, null, 2) + '\n');
    return;
  }
  const ran = r.points.filter((p) => p.status === 'run').length;
  process.stdout.write(`sil sweep: ${r.points.length} point(s) (${ran} run now, ${r.points.length - ran} from before) → ${r.kSweepCsv}, ${r.figure[0]}\n`);
  for (const p of r.points) {
    process.stdout.write(`  ${p.method} k=${p.k}: ${p.rows.map((x) => `${x.eval_lang} ${(100 * x.violation_rate).toFixed(1)}% (${x.violations}/${x.n})`).join(', ')}\n`);
  }
}

export function registerSweep(program: Command): void {
  program
    .command('sweep')
    .description('violation rate versus k: each method’s mask at each k stitched into the base and evaluated in every language → eval/k_sweep.csv and the figure (resumable)')
    .requiredOption('--base <dir>', 'aligned checkpoint θpre')
    .requiredOption('--attacked <dir>', 'attacked checkpoint θattacked')
    .requiredOption('--out <dir>', 'run folder: writes sweep/ and eval/k_sweep.csv, eval/k-sweep.{svg,png,csv}')
    .requiredOption('--data <file>', 'harmful prompts to evaluate (as sil eval --data)')
    .option('--methods <list>', `localisation scores: ${SWEEP_METHODS.join(', ')}`, 'sil,snip,weightdiff,random')
    .option('--ks <list>', 'fractions k in (0, 1]', '0.01,0.03,0.05,0.1,0.2,0.5,1')
    .option('--lang <code>', 'the language whose mask is stitched (the attack’s)', 'en')
    .option('--langs <list>', 'evaluation languages (default: every language of --data)')
    .option('--calibration <source>', 'calibration data of sil locate (its --data; default: locate’s default)')
    .option('--limit <n>', 'at most this many prompts per evaluation language')
    .option('--max-new-tokens <n>', 'tokens to generate at most per reply', '64')
    .option('--batch-size <n>', 'prompts decoded together', '16')
    .option('--backend <b>', BACKEND_HELP, 'auto')
    .option('--threads <n>', 'wasm worker threads for locate (default: all cores)')
    .option('--seed <n>', 'seed of the random method', '0')
    .option('--keep', 'keep the stitched checkpoints in sweep/models/ (by default each is removed once evaluated)')
    .option('--force', 'start over when the folder holds a sweep with other checkpoints, data or settings')
    .option('--json', 'print the points as JSON')
    .action(runSweep);
}
