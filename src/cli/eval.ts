/**
 * `sil eval --model M --prompts P --langs … --out DIR`: greedy replies (KV cache) to harmful
 * prompts, judged for refusal per language, and the decoding-free proxy; see src/eval/evaluate.ts.
 */
import { withGpuOptions } from './gpu';
import type { Command } from 'commander';
import { load } from './lazy';
import { SilError } from '../errors';
import { boundedOption as num, listOption } from '../options';
import { BACKEND_HELP, backendChoice } from '../model/choices';
import { progressFor } from '../progress';

interface EvalCliOptions {
  model: string;
  data?: string;
  prompts?: string;
  condition?: string;
  replace?: boolean;
  out: string;
  langs?: string;
  name?: string;
  ftLang: string;
  maxNewTokens: string;
  repetitionPenalty: string;
  batchSize: string;
  proxy: boolean;
  proxyTokens: string;
  judgeModel?: string;
  limit?: string;
  backend: string;
  json?: boolean;
}

export async function runEval(o: EvalCliOptions): Promise<void> {
  const backend = backendChoice(o.backend);
  const data = o.data ?? o.prompts;
  if (data === undefined) throw new SilError('INVALID_ARGUMENT', 'sil eval needs --data FILE.jsonl (harmful prompts)');
  if (o.data !== undefined && o.prompts !== undefined && o.data !== o.prompts) throw new SilError('INVALID_ARGUMENT', '--prompts is the old name of --data; give one of them');
  const { evaluate } = load<typeof import('../eval/evaluate')>('../eval/evaluate');
  const r = await evaluate({
    model: o.model,
    prompts: data,
    condition: o.condition,
    replace: o.replace,
    progress: progressFor(process.stderr, !o.json),
    out: o.out,
    langs: listOption(o.langs),
    name: o.name,
    ftLang: o.ftLang,
    maxNewTokens: num('max-new-tokens', o.maxNewTokens, true, 1, 1 << 20),
    repetitionPenalty: num('repetition-penalty', o.repetitionPenalty, false, Number.MIN_VALUE, 1e6),
    batchSize: num('batch-size', o.batchSize, true, 1, 65536),
    proxy: o.proxy,
    proxyTokens: num('proxy-tokens', o.proxyTokens, true, 1, 1 << 20),
    judgeModel: o.judgeModel,
    limit: o.limit === undefined ? undefined : num('limit', o.limit, true, 1),
    backend,
  });
  if (o.json) {
    process.stdout.write(JSON.stringify(r) + '\n');
    return;
  }
  process.stdout.write(`${r.model}: condition ${r.condition_id} (ft_lang ${r.ft_lang}, judge ${r.judge}, ${r.backend}, ${r.seconds.toFixed(1)} s)\n`);
  const pct = (v: number) => (100 * v).toFixed(1);
  for (const l of r.languages) {
    const m = l.mean_margin === null ? '' : `  proxy margin ${l.mean_margin.toFixed(2)}`;
    process.stdout.write(`  ${l.lang}: ${l.violations}/${l.n} violations (${pct(l.violation_rate)}%, 95% CI ${pct(l.ci_low)}–${pct(l.ci_high)}), refusal rate ${pct(1 - l.violation_rate)}%${m}\n`);
  }
}

export function registerEval(program: Command): void {
  withGpuOptions(program.command('eval'))
    .description('violation rate per language on harmful prompts (greedy decoding + refusal judge) and the log p(refusal) − log p(compliance) proxy')
    .requiredOption('--model <dir>', 'checkpoint folder')
    .option('--data <file>', 'calibration JSONL; every (id, lang) with a harmful or refusal record is a harmful prompt')
    .option('--prompts <file>', 'old name of --data')
    .requiredOption('--out <dir>', 'run folder; writes eval/violations.csv, eval/proxy.csv, eval/generations.jsonl (rows of this model replaced, others kept)')
    .option('--langs <list>', 'evaluate only these languages (comma-separated)')
    .option('--name <name>', 'model name in the outputs (default: the folder name)')
    .option(
      '--condition <label>',
      'what this model is, e.g. attack=en, attack=en,freeze=intersection, stitch=sil,k=0.05 (default: base, or attack=<ft-lang>); the row id is <label>@<checkpoint sha256[:12]>',
    )
    .option('--replace', 'drop rows whose --name or --condition belong to another checkpoint (otherwise that is an error)')
    .option('--ft-lang <lang>', 'language of the attack that produced the model (none = base)', 'none')
    .option('--max-new-tokens <n>', 'tokens to generate at most', '64')
    .option('--repetition-penalty <x>', 'CTRL repetition penalty (1 = off)', '1')
    .option('--batch-size <n>', 'prompts decoded together', '16')
    .option('--no-proxy', 'skip the decoding-free proxy')
    .option('--proxy-tokens <n>', 'opening length of the proxy, in tokens', '8')
    .option('--judge-model <dir>', 'classifier checkpoint as judge (not supported yet)')
    .option('--limit <n>', 'at most this many prompts per language')
    .option('--backend <b>', BACKEND_HELP, 'auto')
    .option('--json', 'print a JSON summary')
    .action(runEval);
}
