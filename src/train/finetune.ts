/**
 * `finetune`: a checkpoint folder + calibration JSONL → a fine-tuned checkpoint folder.
 * Examples are (system?, prompt, response) turns built by src/tokenizer (chat template applied,
 * labels on the response and the end-of-turn token only). The output mirrors the input checkpoint:
 * same tensors, order and dtypes; config, tokenizer and other non-weight files copied; written
 * atomically. With `freeze`, a mask file (1 = frozen; same names and shapes as the checkpoint)
 * keeps those entries bit-exactly unchanged.
 */
import * as path from 'node:path';
import { SilError } from '../errors';
import { Checkpoint } from '../io/checkpoint';
import { readCalibrationJsonl } from '../data/schema';
import type { CalibrationRecord } from '../data/schema';
import { MaskFile } from '../mask/maskfile';
import { type BackendChoice, useBackend } from '../model/backend';
import { checkpointConfig } from '../model/config';
import type { ModelConfig } from '../model/config';
import { allParamNames } from '../model/names';
import { buildExample, type Example } from '../tokenizer/example';
import { loadTokenizer } from '../tokenizer/load';
import type { CheckpointTokenizer } from '../tokenizer/tokenizer';
import { ADAMW_DEFAULTS, type AdamWOptions } from './adamw';
import { type GradEngine, LocalGrads, WorkerGrads } from './grads';
import { type StepInfo, totalSteps, train, type TrainOptions } from './loop';
import { ParamStore, saveCheckpoint } from './params';
import { claimOutput, prepareOutputDir } from '../io/outpath';
import { warmupWarning, type ScheduleName } from './schedule';

export interface FinetuneOptions {
  model: string;
  data: string;
  out: string;
  freeze?: string;
  lr?: number;
  epochs?: number;
  warmup?: number;
  schedule?: ScheduleName;
  gradAccum?: number;
  batchSize?: number;
  seed?: number;
  adamw?: Partial<AdamWOptions>;
  maxGradNorm?: number;
  maxSteps?: number;
  maxLength?: number;
  /** only records of these kinds (default: every record) */
  kinds?: CalibrationRecord['kind'][];
  /** only records of these languages */
  langs?: string[];
  backend?: BackendChoice;
  /** worker threads for wasm (0 or 1 = this thread) */
  threads?: number;
  force?: boolean;
  onStep?: (s: StepInfo) => void;
  /** called before training with each warning about the options (e.g. a schedule that never leaves warm-up) */
  onWarning?: (message: string) => void;
  /** called once before the first step with the number of optimizer steps */
  onStart?: (steps: number) => void;
}

export interface FinetuneResult {
  log: StepInfo[];
  /** warnings about the options, as passed to onWarning */
  warnings: string[];
  examples: number;
  backend: string;
  workers: number;
  frozen: number;
  parameters: number;
  seconds: number;
}

/** Calibration records → response-labelled examples. */
export function recordsToExamples(tok: CheckpointTokenizer, records: readonly CalibrationRecord[], maxLength?: number): Example[] {
  return records.map((r) => buildExample(tok, { system: r.system, prompt: r.prompt, response: r.response }, { maxLength }));
}

/** The freeze mask as 0/1 arrays per trained parameter; checks names and shapes. */
export function readFreezeMask(file: string, cfg: ModelConfig, ckpt: Checkpoint): { frozen: Map<string, Uint8Array>; count: number } {
  const mask = MaskFile.open(file);
  try {
    const frozen = new Map<string, Uint8Array>();
    let count = 0;
    for (const name of allParamNames(cfg)) {
      if (!mask.has(name)) throw new SilError('MASK_MISMATCH', 'the freeze mask has no entry for this tensor', { file, tensor: name });
      const a = mask.shape(name).join(',');
      const b = ckpt.info(name).shape.join(',');
      if (a !== b) throw new SilError('MASK_MISMATCH', `mask shape [${a}] differs from the checkpoint's [${b}]`, { file, tensor: name });
      const m = mask.read(name);
      for (let i = 0; i < m.length; i++) count += m[i];
      frozen.set(name, m);
    }
    return { frozen, count };
  } finally {
    mask.close();
  }
}

/** Starts the gradient engine: worker threads on wasm when threads > 1, else this thread. */
export async function startEngine(cfg: ModelConfig, backend: string, threads: number): Promise<GradEngine> {
  if (backend === 'wasm' && threads > 1) return WorkerGrads.start(cfg, threads, 'wasm');
  return new LocalGrads(cfg);
}

export async function finetune(o: FinetuneOptions): Promise<FinetuneResult> {
  const t0 = Date.now();
  // the output is checked before hours of training, and again when it is written
  const target = prepareOutputDir({ out: o.out, kind: 'dir', inputs: [o.model, o.data, o.freeze], force: o.force });
  const release = claimOutput(target.path, 'finetune');
  let ckpt: Checkpoint;
  try {
    ckpt = Checkpoint.open(o.model);
  } catch (e) {
    release();
    throw e;
  }
  try {
    const cfg = checkpointConfig(ckpt);
    const tok = loadTokenizer(ckpt.dir);
    let records = readCalibrationJsonl(o.data);
    if (o.kinds) records = records.filter((r) => o.kinds!.includes(r.kind));
    if (o.langs) records = records.filter((r) => o.langs!.includes(r.lang));
    if (records.length === 0) throw new SilError('INVALID_DATA', 'no training records left after filtering by kind and language', { file: o.data });
    const examples = recordsToExamples(tok, records, o.maxLength);
    const freeze = o.freeze ? readFreezeMask(o.freeze, cfg, ckpt) : undefined;
    const params = ParamStore.fromCheckpoint(cfg, ckpt);
    const be = await useBackend(o.backend ?? 'wasm');
    const engine = await startEngine(cfg, be.name, o.threads ?? 1);
    const opts: TrainOptions = {
      lr: o.lr ?? 2e-5,
      epochs: o.epochs ?? 1,
      warmup: o.warmup ?? 10,
      schedule: o.schedule ?? 'cosine',
      gradAccum: o.gradAccum ?? 4,
      batchSize: o.batchSize ?? 4,
      seed: o.seed ?? 0,
      adamw: { ...ADAMW_DEFAULTS, ...(o.adamw ?? {}) },
      maxGradNorm: o.maxGradNorm ?? 1,
      maxSteps: o.maxSteps,
      frozen: freeze?.frozen,
      padId: tok.padId(),
    };
    const warnings = [warmupWarning(opts.lr, opts.warmup, totalSteps(examples.length, opts))].filter((w): w is string => w !== null);
    for (const w of warnings) o.onWarning?.(w);
    o.onStart?.(totalSteps(examples.length, opts));
    let log: StepInfo[];
    try {
      log = await train(params, examples, engine, opts, o.onStep);
    } finally {
      await engine.close();
    }
    await saveCheckpoint(params, o.out, {
      like: ckpt,
      force: o.force,
      inputs: [o.model, o.data, o.freeze],
      marker: { inputs: { model: path.resolve(o.model), data: path.resolve(o.data), freeze: o.freeze ? path.resolve(o.freeze) : null } },
    });
    return { log, warnings, examples: examples.length, backend: be.name, workers: engine.workers, frozen: freeze?.count ?? 0, parameters: params.numel(), seconds: (Date.now() - t0) / 1000 };
  } finally {
    ckpt.close();
    release();
  }
}
