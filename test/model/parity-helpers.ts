/**
 * Shared by the parity tests: the goldens to check (the shared hf-tiny fixtures and every folder
 * under test/goldens/), backends to run on, and llm.c-style per-tensor comparison reports.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SafetensorsFile } from '../../src/io/safetensors';
import { backendAvailability, type BackendName, backendUnavailableSync } from '../../src/model/backend';
import { HF_TINY, FIXTURE_NAMES } from '../helpers/fixtures';

export interface Golden {
  name: string;
  /** folder with base/ (the model), golden.json and golden.safetensors */
  dir: string;
  model: string;
  json: { input_ids: number[][]; attention_mask: number[][]; labels: number[][]; loss: number };
  tensors: SafetensorsFile;
}

export const GOLDENS_DIR = path.resolve(__dirname, '../goldens');

/** What every golden folder holds; a folder missing any of them fails the tests that read it. */
export const GOLDEN_FILES = ['golden.json', 'golden.safetensors', 'base/config.json'] as const;

/**
 * Golden folders: the shared fixtures, then test/goldens/* (made by scripts/goldens/make_goldens.py).
 * Throws, naming each missing file, when a shared fixture or a folder under test/goldens/ is
 * incomplete: a missing golden fails the test instead of shrinking what it checks.
 */
export function goldenDirs(): { shared: string[]; local: string[] } {
  const shared = FIXTURE_NAMES.map((n) => path.join(HF_TINY, n));
  if (!fs.existsSync(GOLDENS_DIR)) throw new Error(`missing goldens: ${GOLDENS_DIR} (python3 scripts/goldens/make_goldens.py test/goldens writes it)`);
  const local = fs
    .readdirSync(GOLDENS_DIR, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => path.join(GOLDENS_DIR, e.name))
    .sort();
  const missing = [...shared, ...local].flatMap((d) => GOLDEN_FILES.map((f) => path.join(d, f)).filter((f) => !fs.existsSync(f)));
  if (missing.length > 0) {
    throw new Error(
      `missing goldens: ${missing.join(', ')} (the shared fixtures are read from ${HF_TINY}, set SIL_SHARED to move it; test/goldens/ is written by python3 scripts/goldens/make_goldens.py test/goldens)`,
    );
  }
  return { shared, local };
}

export function loadGolden(dir: string): Golden {
  return {
    name: path.basename(dir),
    dir,
    model: path.join(dir, 'base'),
    json: JSON.parse(fs.readFileSync(path.join(dir, 'golden.json'), 'utf8')),
    tensors: SafetensorsFile.open(path.join(dir, 'golden.safetensors')),
  };
}

export const BACKENDS: BackendName[] = ['cpu', 'wasm', 'webgpu', 'tensorflow', 'cuda'];

/**
 * Why `name` cannot run here (null: it can), known when a test file loads: from the probes of the
 * global setup (test/setup/backends.ts), else from what is known without probing.
 */
export function backendSkipReason(name: BackendName): string | null {
  const probed = process.env.SIL_TEST_BACKENDS;
  if (probed) {
    const r = (JSON.parse(probed) as Record<string, string | null>)[name];
    if (r !== undefined) return r;
  }
  return backendUnavailableSync(name) ?? (name === 'webgpu' || name === 'cuda' ? 'not probed (run through jest, whose global setup probes it)' : null);
}

/** Each backend with null when usable here, or the reason it is not. */
export async function backendsHere(): Promise<Array<{ name: BackendName; skip: string | null }>> {
  const out = [];
  for (const name of BACKENDS) out.push({ name, skip: await backendAvailability(name) });
  return out;
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** ‖a − b‖ / ‖b‖ */
export function relL2(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    num += d * d;
    den += b[i] * b[i];
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

/** Compares tensors and returns the lines of a report plus the names that failed. */
export function compareTensors(pairs: Array<{ name: string; got: Float32Array; want: Float32Array }>, tol: number, metric: 'abs' | 'relL2'): { report: string; failed: string[] } {
  const lines: string[] = [];
  const failed: string[] = [];
  for (const { name, got, want } of pairs) {
    if (got.length !== want.length) {
      lines.push(`${name} FAIL, size ${got.length} vs ${want.length}`);
      failed.push(name);
      continue;
    }
    const md = maxAbsDiff(got, want);
    const err = metric === 'abs' ? md : relL2(got, want);
    const ok = err <= tol && Number.isFinite(err);
    if (!ok) failed.push(name);
    lines.push(`${name} ${ok ? 'OK' : 'NOT OK'}, maxdiff = ${md.toExponential(3)}${metric === 'relL2' ? `, rel L2 = ${err.toExponential(3)}` : ''}`);
  }
  return { report: lines.join('\n'), failed };
}

/** Every golden gradient and snip score equals the file's (1e-3 relative L2), and so does the loss (1e-5). */
export function expectGoldenFile(f: SafetensorsFile, g: Golden): void {
  expect(Math.abs(Number(f.metadata.loss) - g.json.loss) / g.json.loss).toBeLessThan(1e-5);
  const want = [...g.tensors.tensors.keys()].filter((n) => n.startsWith('grad/') || n.startsWith('snip/')).sort();
  expect([...f.tensors.keys()].sort()).toEqual(want);
  const cmp = compareTensors(
    want.map((name) => ({ name, got: f.readF32(name), want: g.tensors.readF32(name) })),
    1e-3,
    'relL2',
  );
  if (cmp.failed.length > 0) throw new Error(cmp.report);
}
