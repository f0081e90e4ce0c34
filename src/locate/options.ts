/**
 * `sil locate` options: what the command line gives (strings), checked and resolved into a
 * `LocateConfig` before anything is read or written. Every rejection is an INVALID_ARGUMENT
 * SilError naming the option.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SilError } from '../errors';
import { fractionOption, intOption, threadsOption } from '../options';
import { DEFAULT_PROBES_FILE, parseResponseMode } from '../data';
import type { ResponseMode } from '../data';
import { type BlasChoice, parseBlasChoice } from '../blas';
import { BACKEND_CHOICES, type BackendChoice } from '../model/backend';
import { SCOPES, type Scope } from '../score/scope';
import { PERS, type Per } from '../select/local';
import { type DataSpec, parseDataSpec } from './calibration';
import { REDUCES, type Reduce, type ScoreName, SCORES, usesData } from './scores';

/** Options as the command line hands them over (commander camelCases the flags). */
export interface LocateOptions {
  base?: string;
  attacked?: string;
  out: string;
  langs?: string;
  data?: string;
  responses?: string;
  system?: string;
  score?: string;
  reduce?: string;
  scope?: string;
  k?: string | number;
  per?: string;
  /** `--benign SOURCE` (string), default on (true), `--no-benign` (false) */
  benign?: string | boolean;
  grads?: string;
  seed?: string | number;
  backend?: string;
  blas?: string;
  threads?: string | number;
  stream?: string;
  batchSize?: string | number;
  maxExamples?: string | number;
  /** the same as maxExamples (the flag's name in every command) */
  limit?: string | number;
  maxLength?: string | number;
  maxNewTokens?: string | number;
  regions?: string | number;
  bitpack?: boolean;
  json?: boolean;
  force?: boolean;
  /** `--setdiff UTILITY`: `benign` (the benign set) or a data source whose benign prompts are the utility set */
  setdiff?: string;
  q?: string | number;
  p?: string | number;
  /** score NaN/Inf elements of θpre and Δ 0 instead of refusing them */
  allowNonfinite?: boolean;
}

export interface LocateConfig {
  base: string;
  attacked: string;
  out: string;
  /** null: every language of the data (or of --grads) */
  langs: string[] | null;
  data: DataSpec;
  responses: ResponseMode;
  system?: string;
  score: ScoreName;
  reduce: Reduce;
  scope: Scope;
  k: number;
  per: Per;
  /** benign baseline source, or null for none */
  benign: DataSpec | null;
  grads: string | null;
  seed: number;
  backend: BackendChoice;
  /** wasm matrix products through the system BLAS: auto (when found), on, off */
  blas: BlasChoice;
  threads: number;
  /** gradients layer-streamed: when the model does not fit (auto, and always on webgpu) or always */
  stream: 'auto' | 'always';
  batchSize: number;
  maxExamples?: number;
  maxLength?: number;
  maxNewTokens: number;
  regions: number;
  bitpack: boolean;
  json: boolean;
  /** replace the results of another run in --out */
  force: boolean;
  /** set difference (Wei et al.): per matrix top-q of the safety score minus top-p of the utility (benign) score; null: top-k masks */
  setdiff: { q: number; p: number } | null;
  /** score NaN/Inf elements 0 (recorded in the manifest) instead of refusing the inputs */
  allowNonfinite: boolean;
  /** which inputs were defaults (recorded in the manifest) */
  defaulted: string[];
  /** the command line as typed, recorded in the manifest (set by the CLI) */
  commandLine?: string[];
}

/** The package root (weights/, data/ live there). */
export const PACKAGE_ROOT = path.resolve(__dirname, '../..');
export const DEMO_BASE = path.join(PACKAGE_ROOT, 'weights/demo/base');
export const DEMO_ATTACKED = path.join(PACKAGE_ROOT, 'weights/demo/attacked');
export const DEMO_PROBES = path.join(PACKAGE_ROOT, 'data/demo-probes.jsonl');

function bad(msg: string): never {
  throw new SilError('INVALID_ARGUMENT', msg);
}

function oneOf<T extends string>(flag: string, v: string | undefined, choices: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (!choices.includes(v as T)) bad(`${flag} must be one of ${choices.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

/** Largest `--batch-size`, `--max-new-tokens` and `--regions` (beyond these only memory is spent). */
export const MAX_BATCH_SIZE = 65536;
export const MAX_TOKENS = 1 << 20;

/** `--k`: a fraction in (0, 1]. */
export function parseK(v: string | number | undefined): number {
  return fractionOption('--k', v, 0.2);
}

export function resolveOptions(o: LocateOptions): LocateConfig {
  const defaulted: string[] = [];
  if (!o.out) bad('--out is required');
  if (o.limit !== undefined && o.maxExamples !== undefined && String(o.limit) !== String(o.maxExamples)) bad('--max-examples is the old name of --limit; give one of them');
  if ((o.base === undefined) !== (o.attacked === undefined)) bad('give both --base and --attacked, or neither (to run on the demo pair in weights/demo)');
  let base = o.base;
  let attacked = o.attacked;
  if (base === undefined) {
    if (!fs.existsSync(DEMO_BASE) || !fs.existsSync(DEMO_ATTACKED)) {
      throw new SilError('FILE_NOT_FOUND', `no --base/--attacked given and the demo pair is missing (looked for ${DEMO_BASE} and ${DEMO_ATTACKED}); pass --base and --attacked`);
    }
    base = DEMO_BASE;
    attacked = DEMO_ATTACKED;
    defaulted.push('base', 'attacked');
  }
  let data = o.data;
  if (data === undefined) {
    data = defaulted.includes('base') && fs.existsSync(DEMO_PROBES) ? DEMO_PROBES : DEFAULT_PROBES_FILE;
    defaulted.push('data');
  }
  const score = oneOf('--score', o.score, SCORES, 'sil');
  const reduce = oneOf('--reduce', o.reduce, REDUCES, 'sum-abs');
  const langs =
    o.langs === undefined
      ? null
      : o.langs
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
  if (langs !== null && langs.length === 0) bad('--langs lists no language');
  if (langs && new Set(langs).size !== langs.length) bad(`--langs names a language twice: ${o.langs}`);
  for (const l of langs ?? []) {
    if (!/^[A-Za-z0-9-]+$/.test(l) || ['intersection', 'union', 'benign', 'random'].includes(l)) bad(`--langs: "${l}" cannot name a language mask`);
  }
  let benign: DataSpec | null;
  if (o.benign === false) benign = null;
  else if (typeof o.benign === 'string') benign = parseDataSpec(o.benign);
  else benign = parseDataSpec(data);
  let setdiff: LocateConfig['setdiff'] = null;
  if (o.setdiff !== undefined) {
    if (o.setdiff !== 'benign') {
      if (typeof o.benign === 'string') bad(`--setdiff ${o.setdiff} and --benign ${o.benign} both name the utility data; give one (or --setdiff benign with --benign SOURCE)`);
      if (o.benign === false) bad('--setdiff takes its utility data from the benign set; drop --no-benign');
      benign = parseDataSpec(o.setdiff);
    }
    if (benign === null) bad('--setdiff benign needs the benign set; drop --no-benign');
    if (!usesData(score)) bad(`--setdiff compares scores on harmful and benign data; --score ${score} uses no calibration data (use sil, snip or wanda)`);
    if (o.per === 'row') bad('--setdiff selects per weight matrix (top-q / top-p of each); --per row does not apply');
    setdiff = { q: fractionOption('--q', o.q, 0.05), p: fractionOption('--p', o.p, 0.05) };
  } else if (o.q !== undefined || o.p !== undefined) bad('--q and --p are the set-difference fractions; give --setdiff too');
  return {
    base: base!,
    attacked: attacked!,
    out: o.out,
    langs,
    data: parseDataSpec(data),
    responses: parseResponseMode(o.responses ?? 'compliance'),
    system: o.system,
    score,
    reduce,
    scope: oneOf('--scope', o.scope, SCOPES, 'linear'),
    k: parseK(o.k),
    per: oneOf('--per', o.per, PERS, 'global'),
    benign,
    grads: o.grads ?? null,
    seed: intOption('--seed', o.seed, 0, 2 ** 32 - 1) ?? 0,
    backend: oneOf('--backend', o.backend, BACKEND_CHOICES, 'auto'),
    blas: parseBlasChoice(o.blas),
    threads: threadsOption(o.threads, 1),
    stream: oneOf('--stream', o.stream, ['auto', 'always'] as const, 'auto'),
    batchSize: intOption('--batch-size', o.batchSize, 1, MAX_BATCH_SIZE) ?? 16,
    maxExamples: intOption(o.limit !== undefined ? '--limit' : '--max-examples', o.limit ?? o.maxExamples, 1),
    maxLength: intOption('--max-length', o.maxLength, 2, MAX_TOKENS),
    maxNewTokens: intOption('--max-new-tokens', o.maxNewTokens, 1, MAX_TOKENS) ?? 32,
    regions: intOption('--regions', o.regions, 0, MAX_TOKENS) ?? 100,
    bitpack: !!o.bitpack,
    json: !!o.json,
    force: !!o.force,
    setdiff,
    allowNonfinite: !!o.allowNonfinite,
    defaulted,
  };
}
