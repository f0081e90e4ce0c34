/**
 * manifest.json of a `sil locate` run: the inputs (paths and header hashes), options, backend and
 * plan, per calibration set what was computed or cached, per mask what was selected, timings and
 * notes. `buildManifest` makes it from what the steps of run.ts found; summary.ts renders it;
 * report/ reads it back.
 */
import * as path from 'node:path';
import type { Checkpoint } from '../io/checkpoint';
import { sha256Path, type TokenizerHash, tokenizerSha256 } from '../io/provenance';
import { SIL_PACKAGE_NAME, SIL_VERSION } from '../version';
import { type DataSpec, formatDataSpec } from './calibration';
import type { LocateConfig } from './options';
import type { Prepared } from './prepare';

export interface SetReport {
  examples: number | null;
  tokens: number | null;
  mean_loss: number | null;
  gradients: 'computed' | 'cached' | 'file' | 'none';
  /** layer-input norms (wanda) */
  activations?: 'computed' | 'cached';
  /** where computed gradient sums were added up: on the backend across passes, or in the cache file */
  sums?: 'backend' | 'file';
  seconds: number;
}

export interface MaskReport {
  file: string;
  selected: number;
  n: number;
  passes: number;
  threshold: number | null;
}

export interface LocateManifest {
  command: 'locate';
  /** the command line as typed (`sil locate …`), null when called from code */
  command_line: string[] | null;
  version: string;
  /** the package and runtime that wrote the run */
  package: { name: string; version: string; node: string };
  created: string;
  inputs: {
    /** data_sha256: of the tensor data (Checkpoint.dataSha256), tells a base from its attacked copy */
    base: { path: string; header_sha256: string; data_sha256: string };
    attacked: { path: string; header_sha256: string; data_sha256: string };
    /** the base's tokenizer files (they decide the calibration token ids) */
    tokenizer: TokenizerHash | null;
    /** sha256 of the file, or of every file of a folder (multijail:, polyrefuse:) */
    data: { source: string; sha256: string | null } | null;
    benign: { source: string; sha256: string | null } | null;
    grads: Array<{ path: string; sha256: string }> | null;
  };
  options: Record<string, unknown>;
  /** `matmul`: what the matrix products ran on (the system BLAS, e.g. `openblas 0.3.21`, or the backend's kernels) */
  backend: { name: string; note: string; matmul: string; matmul_note: string; source: string; workers: number; plan: string } | null;
  seed: number;
  timings: Record<string, number>;
  languages: string[];
  k: number;
  n_params: number;
  n_in_scope: number;
  architecture: string | null;
  calibration: Record<string, SetReport>;
  masks: Record<string, MaskReport>;
  global_sir: number | null;
  expected_random_sir: number;
  /** NaN/Inf elements found (tensor → count) and scored 0 under --allow-nonfinite; null when there were none */
  nonfinite: { allowed: true; theta_pre: Record<string, number>; delta: Record<string, number> } | null;
  notes: string[];
}

/** What the run's steps found, for the manifest. */
export interface ManifestParts {
  cfg: LocateConfig;
  base: Checkpoint;
  att: Checkpoint;
  /** the checkpoints' tensor-data hashes */
  baseSha: string;
  attSha: string;
  prep: Prepared;
  backendInfo: LocateManifest['backend'];
  calibration: Record<string, SetReport>;
  masks: Record<string, MaskReport>;
  globalSir: number | null;
  timings: Record<string, number>;
  notes: string[];
}

function sha256OfSpec(d: DataSpec): string | null {
  return sha256Path(d.path);
}

export function buildManifest(parts: ManifestParts): LocateManifest {
  const { cfg, base, att, baseSha, attSha, backendInfo, calibration, masks, globalSir, timings, notes } = parts;
  const { benignSpec, gradsUsed, langs, nInScope, nonfinite, nonfiniteFound } = parts.prep;
  return {
    command: 'locate',
    command_line: cfg.commandLine ?? null,
    version: SIL_VERSION,
    package: { name: SIL_PACKAGE_NAME, version: SIL_VERSION, node: process.version },
    created: new Date().toISOString(),
    inputs: {
      base: { path: path.resolve(cfg.base), header_sha256: base.headerSha256(), data_sha256: baseSha },
      attacked: { path: path.resolve(cfg.attacked), header_sha256: att.headerSha256(), data_sha256: attSha },
      tokenizer: tokenizerSha256(base.dir),
      data: cfg.grads === null ? { source: formatDataSpec(cfg.data), sha256: sha256OfSpec(cfg.data) } : null,
      benign: benignSpec ? { source: formatDataSpec(benignSpec), sha256: sha256OfSpec(benignSpec) } : null,
      grads: cfg.grads === null ? null : gradsUsed,
    },
    options: {
      langs: cfg.langs,
      data: formatDataSpec(cfg.data),
      responses: cfg.responses.mode === 'generate' ? `generate:${cfg.responses.checkpoint}` : cfg.responses.mode,
      system: cfg.system ?? null,
      score: cfg.score,
      reduce: cfg.reduce,
      scope: cfg.scope,
      k: cfg.k,
      per: cfg.per,
      benign: cfg.benign ? formatDataSpec(cfg.benign) : false,
      grads: cfg.grads,
      seed: cfg.seed,
      backend: cfg.backend,
      blas: cfg.blas,
      threads: cfg.threads,
      stream: cfg.stream,
      batch_size: cfg.batchSize,
      max_examples: cfg.maxExamples ?? null,
      max_length: cfg.maxLength ?? null,
      max_new_tokens: cfg.maxNewTokens,
      regions: cfg.regions,
      bitpack: cfg.bitpack,
      setdiff: cfg.setdiff,
      allow_nonfinite: cfg.allowNonfinite,
      defaults: cfg.defaulted,
    },
    backend: backendInfo,
    seed: cfg.seed,
    timings,
    languages: langs,
    k: cfg.setdiff ? cfg.setdiff.q : cfg.k,
    n_params: base.numel(),
    n_in_scope: nInScope,
    architecture: base.architecture,
    calibration,
    masks,
    global_sir: globalSir,
    expected_random_sir: cfg.setdiff ? cfg.setdiff.q : cfg.k,
    nonfinite: nonfiniteFound ? { allowed: true, theta_pre: nonfinite.thetaPre, delta: nonfinite.delta } : null,
    notes,
  };
}
