/**
 * `sil locate --replay RUN/manifest.json`: runs a locate run again from its manifest — the same
 * checkpoints, data, tokenizer and options — into a fresh folder, and checks that every mask comes
 * out byte-identical. Before any work, the inputs are hashed again and compared with the
 * manifest's: a checkpoint, data file or tokenizer that changed since stops the replay with
 * REPLAY_MISMATCH naming it (the masks could not be expected to match).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SilError } from '../errors';
import { Checkpoint } from '../io/checkpoint';
import { sha256File, sha256Path, tokenizerSha256 } from '../io/provenance';
import type { LocateOptions } from './options';
import type { LocateManifest } from './manifest';

export function readManifest(file: string): LocateManifest {
  let m: LocateManifest;
  try {
    m = JSON.parse(fs.readFileSync(file, 'utf8')) as LocateManifest;
  } catch (e) {
    throw new SilError(fs.existsSync(file) ? 'INVALID_DATA' : 'FILE_NOT_FOUND', fs.existsSync(file) ? `not a JSON manifest: ${(e as Error).message}` : 'no such manifest', { file });
  }
  if (m?.command !== 'locate' || !m.inputs?.base?.path || !m.options || !m.masks)
    throw new SilError('INVALID_DATA', 'not a sil locate manifest (needs command "locate", inputs, options, masks)', { file });
  if (!m.inputs.base.data_sha256) throw new SilError('INVALID_DATA', 'the manifest has no content hash of its checkpoints (written by an older sil); it cannot be replayed and checked', { file });
  return m;
}

/**
 * The options of the manifest's run, writing into `out`. The products run on what the run's ran on
 * (`backend.matmul`): the wasm kernels (`--blas off`; also for manifests from before the BLAS), or
 * the system BLAS (`--blas on`, which refuses to run without one). Gradients through a BLAS differ
 * from the wasm kernels' in the last bits, enough to move a mask's boundary at near-ties.
 */
export function replayOptions(m: LocateManifest, out: string): LocateOptions {
  const o = m.options as Record<string, unknown>;
  const str = (v: unknown) => (v === null || v === undefined ? undefined : String(v));
  const setdiff = o.setdiff as { q: number; p: number } | null;
  return {
    base: m.inputs.base.path,
    attacked: m.inputs.attacked.path,
    out,
    langs: Array.isArray(o.langs) ? (o.langs as string[]).join(',') : undefined,
    data: o.grads ? undefined : str(o.data),
    responses: str(o.responses),
    system: str(o.system),
    score: str(o.score),
    reduce: str(o.reduce),
    scope: str(o.scope),
    k: setdiff ? undefined : (o.k as number),
    per: setdiff ? undefined : str(o.per),
    benign: o.benign === false ? false : str(o.benign),
    grads: str(o.grads),
    seed: o.seed as number,
    backend: str(o.backend),
    blas: !m.backend?.matmul || m.backend.matmul === m.backend.name ? 'off' : 'on',
    threads: o.threads as number,
    stream: str(o.stream),
    batchSize: o.batch_size as number,
    maxExamples: o.max_examples === null ? undefined : (o.max_examples as number),
    maxLength: o.max_length === null ? undefined : (o.max_length as number),
    maxNewTokens: o.max_new_tokens as number,
    regions: o.regions as number,
    bitpack: !!o.bitpack,
    json: true,
    ...(setdiff ? { setdiff: 'benign', q: setdiff.q, p: setdiff.p } : {}),
  };
}

/** Hashes the manifest's inputs again; throws REPLAY_MISMATCH naming every one that changed. */
export function checkInputs(m: LocateManifest, manifestFile: string): void {
  const changed: string[] = [];
  for (const role of ['base', 'attacked'] as const) {
    const inp = m.inputs[role];
    if (!fs.existsSync(inp.path)) {
      changed.push(`${role} checkpoint ${inp.path} is gone`);
      continue;
    }
    const c = Checkpoint.open(inp.path);
    try {
      const sha = c.dataSha256();
      if (sha !== inp.data_sha256) changed.push(`${role} checkpoint ${inp.path} has other weights (sha256 ${sha.slice(0, 12)}…, manifest ${inp.data_sha256.slice(0, 12)}…)`);
    } finally {
      c.close();
    }
  }
  const tok = m.inputs.tokenizer;
  if (tok) {
    const now = tokenizerSha256(tok.path);
    if (now?.sha256 !== tok.sha256) changed.push(`tokenizer files in ${tok.path} changed`);
  }
  for (const role of ['data', 'benign'] as const) {
    const d = m.inputs[role];
    if (!d || d.sha256 === null) continue;
    const p = d.source.replace(/^(multijail|polyrefuse):/, '');
    const now = sha256Path(p);
    if (now !== d.sha256) changed.push(`${role} ${d.source} ${now === null ? 'is gone' : 'changed'}`);
  }
  for (const g of m.inputs.grads ?? []) {
    if (!fs.existsSync(g.path) || sha256File(g.path) !== g.sha256) changed.push(`gradient file ${g.path} changed or is gone`);
  }
  if (changed.length) throw new SilError('REPLAY_MISMATCH', `the inputs are not those of the run: ${changed.join('; ')}`, { file: manifestFile });
}

export interface MaskComparison {
  name: string;
  identical: boolean;
  /** entries that differ (0 when identical; -1 when the files cannot be compared entry by entry) */
  differing: number;
}

/** Compares every mask the manifest lists, in `runDir` and in `replayDir`, byte for byte. */
export function compareMasks(m: LocateManifest, runDir: string, replayDir: string): MaskComparison[] {
  return Object.entries(m.masks).map(([name, info]) => {
    const a = path.join(runDir, info.file);
    const b = path.join(replayDir, info.file);
    if (!fs.existsSync(a) || !fs.existsSync(b)) return { name, identical: false, differing: -1 };
    const x = fs.readFileSync(a);
    const y = fs.readFileSync(b);
    if (x.equals(y)) return { name, identical: true, differing: 0 };
    if (x.length !== y.length) return { name, identical: false, differing: -1 };
    let d = 0;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) d++;
    return { name, identical: false, differing: d };
  });
}
