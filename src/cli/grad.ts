/**
 * `sil grad --model DIR --batch BATCH.json --out GRADS.safetensors [--snip] [--backend B]
 * [--threads N] [--json]`: the loss of a batch and the gradient of every stored parameter, written
 * as float32 `grad/<name>` (checkpoint tensor names) — with `--snip` also `snip/<name>` = |θ ⊙ ∇θ| —
 * in one safetensors file (atomic), with loss, backend and inputs in `__metadata__`.
 *
 * BATCH.json holds `input_ids`, `attention_mask` and `labels` (B×T, right padding, −100 = no loss),
 * exactly as the fixtures' golden.json. On wasm the examples are spread over `--threads` worker
 * threads (default: all cores).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { SilError } from '../errors';
import { Checkpoint } from '../io/checkpoint';
import { SafetensorsWriter } from '../io/writer';
import { BACKEND_CHOICES, BackendChoice, useBackend } from '../model/backend';
import type { Batch } from '../model/batch';
import { CausalLM, LossAndGrads } from '../model/model';
import { defaultWorkerCount, GradWorkerPool } from '../model/parallel';

export interface GradOptions {
  model: string;
  batch: string;
  out: string;
  snip?: boolean;
  backend?: string;
  threads?: string | number;
  json?: boolean;
}

export interface GradSummary {
  loss: number;
  labelled_positions: number;
  examples: number;
  seq_len: number;
  backend: string;
  backend_note: string;
  workers: number;
  tensors: number;
  out: string;
  seconds: number;
}

function readBatch(file: string): Batch {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new SilError('FILE_NOT_FOUND', `cannot read the batch: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file });
  }
  try {
    return JSON.parse(text) as Batch;
  } catch (e) {
    throw new SilError('INVALID_DATA', `batch is not valid JSON: ${(e as Error).message}`, { file });
  }
}

function parseThreads(v: string | number | undefined): number {
  if (v === undefined) return defaultWorkerCount();
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new SilError('INVALID_ARGUMENT', `--threads must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

/** Computes and writes the gradients; returns what it printed as the summary. */
export async function runGrad(o: GradOptions): Promise<GradSummary> {
  const t0 = process.hrtime.bigint();
  const choice = (o.backend ?? 'auto') as BackendChoice;
  if (!BACKEND_CHOICES.includes(choice)) throw new SilError('INVALID_ARGUMENT', `--backend must be one of ${BACKEND_CHOICES.join(', ')}, got ${JSON.stringify(o.backend)}`);
  const threads = parseThreads(o.threads);
  const batch = readBatch(o.batch);
  const ckpt = Checkpoint.open(o.model);
  try {
    const selected = await useBackend(choice);
    let result: LossAndGrads;
    let workers = 1;
    let model: CausalLM | null = CausalLM.fromCheckpoint(ckpt);
    const pb = model.prepare(batch); // validates the batch before any work
    if (selected.name === 'wasm' && threads > 1 && pb.batch > 1) {
      model.dispose();
      model = null;
      const pool = await GradWorkerPool.start(path.resolve(o.model), Math.min(threads, pb.batch), 'wasm');
      workers = pool.workers.length;
      try {
        result = await pool.lossAndGrads(batch);
      } finally {
        await pool.close();
      }
    } else {
      try {
        result = model.lossAndGrads(batch);
      } finally {
        model.dispose();
      }
    }
    const names = ckpt.names().filter((n) => result.grads.has(n));
    const missing = [...result.grads.keys()].filter((n) => !names.includes(n));
    if (missing.length > 0) throw new SilError('CHECKPOINT_MISMATCH', `model parameters not stored in the checkpoint: ${missing.join(', ')}`, { file: ckpt.location });
    const specs = names.flatMap((n) => {
      const shape = ckpt.info(n).shape;
      const s = [{ name: `grad/${n}`, dtype: 'F32' as const, shape }];
      if (o.snip) s.push({ name: `snip/${n}`, dtype: 'F32' as const, shape });
      return s;
    });
    const metadata: Record<string, string> = {
      format: 'pt',
      loss: String(result.loss),
      labelled_positions: String(result.count),
      backend: selected.name,
      backend_note: selected.note,
      workers: String(workers),
      model: path.resolve(o.model),
      model_header_sha256: ckpt.headerSha256(),
      batch: path.resolve(o.batch),
      sil_version: require('../../package.json').version,
      created: new Date().toISOString(),
    };
    const w = SafetensorsWriter.create(o.out, specs, metadata);
    try {
      for (const n of names) {
        const g = result.grads.get(n)!;
        w.write(`grad/${n}`, g);
        if (o.snip) {
          const theta = ckpt.readF32(n);
          for (let i = 0; i < theta.length; i++) theta[i] = Math.abs(theta[i] * g[i]);
          w.write(`snip/${n}`, theta);
        }
      }
      w.close();
    } catch (e) {
      w.abort();
      throw e;
    }
    const summary: GradSummary = {
      loss: result.loss,
      labelled_positions: result.count,
      examples: pb.batch,
      seq_len: pb.seqLen,
      backend: selected.name,
      backend_note: selected.note,
      workers,
      tensors: specs.length,
      out: path.resolve(o.out),
      seconds: Number(process.hrtime.bigint() - t0) / 1e9,
    };
    if (o.json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
    else {
      process.stdout.write(
        `loss ${summary.loss.toFixed(6)} over ${summary.labelled_positions} labelled positions (${summary.examples}×${summary.seq_len}), ` +
          `backend ${summary.backend}${workers > 1 ? ` × ${workers} workers` : ''} (${summary.backend_note}), ${summary.seconds.toFixed(1)} s\n` +
          `wrote ${summary.tensors} tensors to ${summary.out}\n`,
      );
    }
    return summary;
  } finally {
    ckpt.close();
  }
}

export function registerGrad(program: Command): void {
  program
    .command('grad')
    .description('Loss of a token batch and the gradient of every parameter, as float32 grad/<name> (and snip/<name> = |θ⊙∇θ|) in safetensors')
    .requiredOption('--model <dir>', 'checkpoint folder (config.json + safetensors)')
    .requiredOption('--batch <file>', 'JSON with input_ids, attention_mask, labels (B×T; labels −100 = no loss)')
    .requiredOption('--out <file>', 'output .safetensors')
    .option('--snip', 'also write snip/<name> = |θ ⊙ ∇θ|')
    .option('--backend <name>', `TF.js backend: ${BACKEND_CHOICES.join('|')}`, 'auto')
    .option('--threads <n>', 'wasm worker threads (default: all cores)')
    .option('--json', 'print the summary as JSON')
    .action(async (o: GradOptions) => {
      await runGrad(o);
    });
}
