/**
 * The implementation of `sil grad` (the command and its options: grad.ts, which loads this module
 * when the command runs).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SilError } from '../errors';
import { parseBlasChoice } from '../blas';
import { intOption, threadsOption } from '../options';
import { Checkpoint } from '../io/checkpoint';
import { SafetensorsWriter } from '../io/writer';
import { claimOutput, prepareOutputFile } from '../io/outpath';
import { BACKEND_CHOICES, type BackendChoice, useBackend, isGpuBackend } from '../model/backend';
import type { Batch } from '../model/batch';
import { CausalLM, type LossAndGrads } from '../model/model';
import { defaultWorkerCount, GradWorkerPool } from '../model/parallel';
import { allParamNames, linearWeight } from '../model/names';
import { bindingBytes, chooseStreaming, cudaWeightStorage, defaultSequencesPerGroup, deviceBudget, formatPlan, instanceCap, planStreaming, sequencesPerPass, weightCacheBytes } from '../model/planner';
import { checkpointConfig } from '../model/config';
import { progressFor } from '../progress';
import { streamSteps } from '../stream/engine';
import { streamGradientsToFile } from '../stream/gradfile';
import { SIL_VERSION } from '../version';
import { sha256Path } from '../io/provenance';
import { calibrationExamples } from '../locate/calibration';
import { collate } from '../tokenizer';
import { loadTokenizer } from '../tokenizer/load';

export interface GradOptions {
  model: string;
  /** token ids (BATCH.json), or: */
  batch?: string;
  /** a calibration source (FILE.jsonl, multijail:CSV, polyrefuse:DIR) with --lang, built as sil locate builds it */
  data?: string;
  lang?: string;
  responses?: string;
  system?: string;
  kind?: string;
  limit?: string | number;
  maxLength?: string | number;
  out: string;
  snip?: boolean;
  force?: boolean;
  backend?: string;
  blas?: string;
  threads?: string | number;
  json?: boolean;
  stream?: string;
  weightCache?: string;
  sequencesPerGroup?: string;
  profile?: boolean;
}

export interface GradSummary {
  loss: number;
  labelled_positions: number;
  examples: number;
  seq_len: number;
  backend: string;
  backend_note: string;
  /** what the matrix products ran on: the system BLAS (`openblas 0.3.21`) or the backend's kernels (`wasm`) */
  matmul: string;
  matmul_note: string;
  workers: number;
  tensors: number;
  out: string;
  seconds: number;
  /** whether the layer-streamed pass ran, and why */
  streamed: boolean;
  stream_reason: string;
  /** streamed pass: forward+backward wall seconds (gradient writing overlaps them), and the seconds spent writing */
  grad_seconds?: number;
  write_seconds?: number;
  /** streamed pass: groups of sequences that each layer takes in turn (1: the whole batch at once) */
  groups?: number;
  /** peak resident set of this process */
  peak_rss_bytes: number;
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

/** The calibration set of --data/--lang as one right-padded batch, built exactly as sil locate builds it. */
async function calibrationBatch(o: GradOptions, ckpt: Checkpoint): Promise<Batch> {
  if (o.kind !== undefined && o.kind !== 'harmful' && o.kind !== 'benign') throw new SilError('INVALID_ARGUMENT', `--kind must be harmful or benign, got ${JSON.stringify(o.kind)}`);
  const tok = loadTokenizer(ckpt.dir);
  const { examples } = await calibrationExamples(tok, {
    data: o.data!,
    lang: o.lang!,
    responses: o.responses,
    system: o.system,
    kind: o.kind as 'harmful' | 'benign' | undefined,
    limit: intOption('--limit', o.limit, 1),
    maxLength: intOption('--max-length', o.maxLength, 2),
  });
  return collate(examples, tok.padId());
}

/** What the gradients were computed on, for the file's metadata. */
function inputMetadata(o: GradOptions): Record<string, string> {
  if (o.batch !== undefined) return { batch: path.resolve(o.batch) };
  const file = o.data!.replace(/^(multijail|polyrefuse):/, '');
  const sha = sha256Path(file);
  return {
    data: o.data!,
    ...(sha ? { data_sha256: sha } : {}),
    lang: o.lang!,
    kind: o.kind ?? 'harmful',
    responses: o.responses ?? 'compliance',
    ...(o.system !== undefined ? { system: o.system } : {}),
    ...(o.limit !== undefined ? { limit: String(o.limit) } : {}),
  };
}

/** Computes and writes the gradients; returns what it printed as the summary. */
export async function runGrad(o: GradOptions): Promise<GradSummary> {
  const t0 = process.hrtime.bigint();
  const choice = (o.backend ?? 'auto') as BackendChoice;
  if (!BACKEND_CHOICES.includes(choice)) throw new SilError('INVALID_ARGUMENT', `--backend must be one of ${BACKEND_CHOICES.join(', ')}, got ${JSON.stringify(o.backend)}`);
  const threads = threadsOption(o.threads, 1, defaultWorkerCount());
  const blas = parseBlasChoice(o.blas);
  const perGroup = parseSequencesPerGroup(o.sequencesPerGroup);
  if ((o.batch === undefined) === (o.data === undefined)) throw new SilError('INVALID_ARGUMENT', 'give --batch BATCH.json (token ids) or --data FILE.jsonl --lang L (a calibration set), not both');
  if (o.data !== undefined && !o.lang) throw new SilError('INVALID_ARGUMENT', '--data needs --lang: the language whose calibration set to use');
  if (o.batch !== undefined && (o.lang ?? o.responses ?? o.system ?? o.kind ?? o.limit ?? o.maxLength) !== undefined)
    throw new SilError('INVALID_ARGUMENT', '--lang, --responses, --system, --kind, --limit and --max-length go with --data, not with --batch');
  const dataPath = o.data === undefined ? undefined : o.data.replace(/^(multijail|polyrefuse):/, '');
  const release = claimOutput(prepareOutputFile({ out: o.out, inputs: [o.model, o.batch ?? dataPath!], force: o.force }), 'grad');
  try {
    return await gradInto(o, choice, threads, blas, perGroup, t0);
  } finally {
    release();
  }
}

async function gradInto(o: GradOptions, choice: BackendChoice, threads: number, blas: ReturnType<typeof parseBlasChoice>, perGroup: number | null, t0: bigint): Promise<GradSummary> {
  const ckpt = Checkpoint.open(o.model);
  try {
    const batch = o.batch !== undefined ? readBatch(o.batch) : await calibrationBatch(o, ckpt);
    const selected = await useBackend(choice, { blas });
    const config = ckpt.config ? checkpointConfig(ckpt) : null;
    const seqLen = Array.isArray(batch.input_ids) && Array.isArray(batch.input_ids[0]) ? batch.input_ids[0].length : 0;
    const decision = chooseStreaming(o.stream ?? 'auto', ckpt.numel(), selected.name, threads, os.totalmem(), config && seqLen > 0 ? { config, seqLen } : undefined);
    if (decision.stream) return await runStreamed(o, ckpt, batch, selected, decision.why, t0, perGroup);
    let result: LossAndGrads;
    let workers = 1;
    let matmul = { name: selected.matmul, note: selected.matmulNote };
    let model: CausalLM | null = CausalLM.fromCheckpoint(ckpt);
    const pb = model.prepare(batch); // validates the batch before any work
    if (selected.name === 'wasm' && threads > 1 && pb.batch > 1) {
      model.dispose();
      model = null;
      const pool = await GradWorkerPool.start(path.resolve(o.model), Math.min(threads, pb.batch), 'wasm', { blas });
      workers = pool.workers;
      matmul = { name: pool.matmul, note: pool.matmulNote };
      try {
        result = await pool.lossAndGrads(batch);
      } finally {
        await pool.close();
      }
    } else {
      try {
        result = model.lossAndGradsInPasses(batch, sequencesPerPass(model.cfg, pb.seqLen, instanceCap(selected.name)));
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
      matmul: matmul.name,
      workers: String(workers),
      model: path.resolve(o.model),
      model_header_sha256: ckpt.headerSha256(),
      ...inputMetadata(o),
      sil_version: SIL_VERSION,
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
      matmul: matmul.name,
      matmul_note: matmul.note,
      workers,
      tensors: specs.length,
      out: path.resolve(o.out),
      seconds: Number(process.hrtime.bigint() - t0) / 1e9,
      streamed: false,
      stream_reason: decision.why,
      peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
    };
    printSummary(summary, o.json);
    return summary;
  } finally {
    ckpt.close();
  }
}

function printSummary(summary: GradSummary, json?: boolean): void {
  if (json) {
    process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
    return;
  }
  const workers = summary.workers;
  process.stdout.write(
    `loss ${summary.loss.toFixed(6)} over ${summary.labelled_positions} labelled positions (${summary.examples}×${summary.seq_len}), ` +
      `backend ${summary.backend}${workers > 1 ? ` × ${workers} workers` : ''} (${summary.backend_note}), matmul ${summary.matmul_note}, ${summary.seconds.toFixed(1)} s\n` +
      `${summary.streamed ? 'layer-streamed' : 'in memory'} (${summary.stream_reason}); wrote ${summary.tensors} tensors to ${summary.out}\n`,
  );
}

/** `--sequences-per-group`: a positive integer, or null for auto. */
function parseSequencesPerGroup(v: string | undefined): number | null {
  if (v === undefined || v === 'auto') return null;
  return intOption('--sequences-per-group', v, 1, 65536)!;
}

/** The layer-streamed pass: plan printed to stderr, gradients written as they are computed. */
async function runStreamed(
  o: GradOptions,
  ckpt: Checkpoint,
  batch: Batch,
  selected: { name: string; note: string; matmul: string; matmulNote: string },
  why: string,
  t0: bigint,
  perGroup: number | null,
): Promise<GradSummary> {
  const cfg = checkpointConfig(ckpt);
  const stored = new Set(ckpt.names());
  const missing = allParamNames(cfg).filter((n) => !stored.has(n));
  if (missing.length > 0) throw new SilError('CHECKPOINT_MISMATCH', `model parameters not stored in the checkpoint: ${missing.join(', ')}`, { file: ckpt.location });
  const params = new Set(allParamNames(cfg));
  const names = ckpt.names().filter((n) => params.has(n));
  const profile: Record<string, number> | undefined = o.profile ? {} : undefined;
  const boundaries = isGpuBackend(selected.name) ? 'device' : 'host';
  const B = batch.input_ids.length;
  const T = batch.input_ids[0]?.length ?? 0;
  const per = perGroup ?? defaultSequencesPerGroup(cfg, selected.name, B, T);
  const weightStorage = cudaWeightStorage(selected.name, ckpt.info(linearWeight(0, 'q')).dtype);
  const stage = planStreaming(cfg, B, T, { boundaries, sequencesPerGroup: per, weightStorage }).devicePeakBytes;
  let groups = 1;
  const progress = progressFor(process.stderr, !o.json);
  const r = await streamGradientsToFile(cfg, ckpt, batch, {
    out: o.out,
    snip: o.snip,
    names,
    boundaries,
    maxBindingBytes: bindingBytes(selected.name),
    weightCacheBytes: weightCacheBytes(o.weightCache, selected.name, stage),
    sequencesPerGroup: per,
    weightStorage,
    deviceBudgetBytes: deviceBudget(selected.name).bytes,
    onPlan: (p) => {
      groups = p.groups;
      process.stderr.write(`${formatPlan(p, cfg)}\n${per < B ? `  each layer takes ${per} of the batch's ${B} sequences at a time, their gradients summed before they are written\n` : ''}`);
      progress.start(streamSteps(cfg), 'gradients (layer steps)');
    },
    onStep: () => progress.tick(1),
    profile,
    metadata: (loss, count) => ({
      format: 'pt',
      loss: String(loss),
      labelled_positions: String(count),
      backend: selected.name,
      backend_note: selected.note,
      matmul: selected.matmul,
      workers: '1',
      streamed: 'true',
      model: path.resolve(o.model),
      model_header_sha256: ckpt.headerSha256(),
      ...inputMetadata(o),
      sequence_groups: String(groups),
      sil_version: SIL_VERSION,
      created: new Date().toISOString(),
    }),
  }).finally(() => progress.stop());
  const summary: GradSummary = {
    loss: r.loss,
    labelled_positions: r.count,
    examples: batch.input_ids.length,
    seq_len: batch.input_ids[0].length,
    backend: selected.name,
    backend_note: selected.note,
    matmul: selected.matmul,
    matmul_note: selected.matmulNote,
    workers: 1,
    tensors: r.tensors,
    out: path.resolve(o.out),
    seconds: Number(process.hrtime.bigint() - t0) / 1e9,
    streamed: true,
    stream_reason: why,
    grad_seconds: r.forwardSeconds + r.backwardSeconds,
    write_seconds: r.writeSeconds,
    groups: r.plan.groups,
    peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
  };
  if (profile)
    process.stderr.write(
      `stage seconds (backend synchronised per stage): ${Object.entries(profile)
        .map(([k, v]) => `${k} ${v.toFixed(2)}`)
        .join(', ')}\n`,
    );
  printSummary(summary, o.json);
  return summary;
}
