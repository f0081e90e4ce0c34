/**
 * `sil finetune --model M --data D --out OUT [--freeze MASK] [--lr 2e-5] [--epochs 1] [--warmup 10]
 * [--schedule cosine] [--grad-accum 4] [--batch-size 4] [--seed 0] …`: full-parameter supervised
 * fine-tuning on response tokens with AdamW (the paper's attack recipe by default); `--freeze`
 * keeps every entry where the mask is 1 bit-exactly unchanged. See src/train/.
 */
import { withGpuOptions } from './gpu';
import type { Command } from 'commander';
import { load } from './lazy';
import { SilError } from '../errors';
import { boundedOption as num, listOption as list, threadsOption } from '../options';
import { BACKEND_HELP, backendChoice } from '../model/choices';
import { KINDS } from '../data/schema';
import type { CalibrationKind } from '../data/schema';
import { parseSchedule } from '../train/schedule';
import { progressFor, SILENT } from '../progress';

interface FinetuneCliOptions {
  model: string;
  data: string;
  out: string;
  freeze?: string;
  lr: string;
  epochs: string;
  warmup: string;
  schedule: string;
  gradAccum: string;
  batchSize: string;
  seed: string;
  weightDecay: string;
  beta1: string;
  beta2: string;
  eps: string;
  maxGradNorm: string;
  maxSteps?: string;
  maxLength?: string;
  kinds?: string;
  langs?: string;
  backend: string;
  threads?: string;
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export async function runFinetune(o: FinetuneCliOptions): Promise<void> {
  const backend = backendChoice(o.backend);
  const kinds = list(o.kinds);
  for (const k of kinds ?? []) if (!(KINDS as readonly string[]).includes(k)) throw new SilError('INVALID_ARGUMENT', `--kinds: unknown kind "${k}"; choose from ${KINDS.join(', ')}`);
  // on a TTY a bar per optimizer step with the loss; in pipes one line per step (unless --quiet)
  const bar = o.quiet || o.json ? SILENT : progressFor();
  const { defaultWorkerCount } = load<typeof import('../model/parallel')>('../model/parallel');
  const { finetune } = load<typeof import('../train/finetune')>('../train/finetune');
  const r = await finetune({
    model: o.model,
    data: o.data,
    out: o.out,
    freeze: o.freeze,
    lr: num('lr', o.lr, false, Number.MIN_VALUE, 10),
    epochs: num('epochs', o.epochs, true, 1, 1e6),
    warmup: num('warmup', o.warmup, true, 0),
    schedule: parseSchedule(o.schedule),
    gradAccum: num('grad-accum', o.gradAccum, true, 1, 1e6),
    batchSize: num('batch-size', o.batchSize, true, 1, 65536),
    seed: num('seed', o.seed, true, 0, 2 ** 32 - 1),
    adamw: {
      weightDecay: num('weight-decay', o.weightDecay, false, 0),
      beta1: num('beta1', o.beta1, false, 0, 0.999999),
      beta2: num('beta2', o.beta2, false, 0, 0.999999),
      eps: num('eps', o.eps, false, Number.MIN_VALUE, 1),
    },
    maxGradNorm: num('max-grad-norm', o.maxGradNorm, false, 0),
    maxSteps: o.maxSteps === undefined ? undefined : num('max-steps', o.maxSteps, true, 1),
    maxLength: o.maxLength === undefined ? undefined : num('max-length', o.maxLength, true, 2, 1 << 20),
    kinds: kinds as CalibrationKind[] | undefined,
    langs: list(o.langs),
    backend,
    threads: threadsOption(o.threads, 1, defaultWorkerCount()),
    force: o.force,
    onWarning: (w) => process.stderr.write(`sil: warning: ${w}\n`),
    onStart: (steps) => bar.start(steps, 'finetune (optimizer steps)'),
    onStep:
      o.quiet || o.json
        ? undefined
        : bar !== SILENT
          ? (s) => {
              bar.note!(`loss ${s.loss.toFixed(4)} lr ${s.lr.toExponential(2)}`);
              bar.tick();
            }
          : (s) =>
              process.stderr.write(`step ${s.step}/${s.steps} epoch ${s.epoch + 1} loss ${s.loss.toFixed(4)} lr ${s.lr.toExponential(2)} |g| ${s.gradNorm.toFixed(3)} ${s.seconds.toFixed(2)} s\n`),
  }).finally(() => bar.stop());
  const last = r.log[r.log.length - 1];
  const summary = {
    out: o.out,
    warnings: r.warnings,
    examples: r.examples,
    steps: r.log.length,
    first_loss: r.log[0].loss,
    final_loss: last.loss,
    parameters: r.parameters,
    frozen: r.frozen,
    backend: r.backend,
    workers: r.workers,
    seconds: r.seconds,
  };
  if (o.json) process.stdout.write(JSON.stringify({ ...summary, log: r.log }) + '\n');
  else
    process.stdout.write(
      `fine-tuned ${r.parameters} parameters (${r.frozen} frozen) on ${r.examples} examples, ${r.log.length} steps, loss ${summary.first_loss.toFixed(4)} → ${last.loss.toFixed(4)}, ${r.seconds.toFixed(1)} s on ${r.backend}×${r.workers} → ${o.out}\n`,
    );
}

export function registerFinetune(program: Command): void {
  withGpuOptions(program.command('finetune'))
    .description('full-parameter supervised fine-tuning on response tokens (AdamW, warm-up + cosine), optionally freezing masked entries')
    .requiredOption('--model <dir>', 'checkpoint folder to fine-tune')
    .requiredOption('--data <file>', 'calibration JSONL: {id, lang, kind, prompt, response, system?} per line; every record is a training example')
    .requiredOption('--out <dir>', 'output checkpoint folder (same tensors and dtypes; config and tokenizer copied; written atomically)')
    .option('--freeze <mask>', 'mask .safetensors (1 = frozen): gradient and update of those entries are zero')
    .option('--lr <x>', 'peak learning rate', '2e-5')
    .option('--epochs <n>', 'passes over the data', '1')
    .option('--warmup <n>', 'linear warm-up steps', '10')
    .option('--schedule <s>', 'cosine | linear | constant', 'cosine')
    .option('--grad-accum <n>', 'micro-batches per optimizer step', '4')
    .option('--batch-size <n>', 'examples per micro-batch', '4')
    .option('--seed <n>', 'seed of the data order', '0')
    .option('--weight-decay <x>', 'AdamW decoupled weight decay', '0')
    .option('--beta1 <x>', 'AdamW β₁', '0.9')
    .option('--beta2 <x>', 'AdamW β₂', '0.999')
    .option('--eps <x>', 'AdamW ε', '1e-8')
    .option('--max-grad-norm <x>', 'clip the global gradient norm (0 = off)', '1')
    .option('--max-steps <n>', 'stop after this many optimizer steps')
    .option('--max-length <n>', 'cut responses so examples have at most this many tokens')
    .option('--kinds <list>', 'train only on records of these kinds (harmful,refusal,benign)')
    .option('--langs <list>', 'train only on records of these languages')
    .option('--backend <b>', BACKEND_HELP, 'auto')
    .option('--threads <n>', 'data-parallel worker threads on wasm (default: all cores; the count fixes the summation order)')
    .option('--force', 'replace a non-empty output folder')
    .option('--json', 'print a JSON summary with the per-step log')
    .option('--quiet', 'no per-step log')
    .action(runFinetune);
}
