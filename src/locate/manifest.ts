/**
 * manifest.json of a `sil locate` run: the inputs (paths and header hashes), options, backend and
 * plan, per calibration set what was computed or cached, per mask what was selected, timings and
 * notes. run.ts builds it; summary.ts renders it; report/ reads it back.
 */
import type { TokenizerHash } from '../io/provenance';

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
