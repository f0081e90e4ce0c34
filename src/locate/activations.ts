/**
 * Layer-input norms for `sil locate --score wanda`, per calibration set, cached like the gradient
 * sums: `cache/<set>.inputs.safetensors` holds `norm/<weight name>` = ‖X_j‖₂ (F32, one entry per
 * input column; src/model/inputs.ts says which X and which tokens) with the inputs' hash in its
 * metadata, so an interrupted run resumes with the sets already done.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Progress } from '../progress';
import { SilError } from '../errors';
import type { Checkpoint } from '../io/checkpoint';
import { SafetensorsFile } from '../io/safetensors';
import { SafetensorsWriter } from '../io/writer';
import type { Batch } from '../model/batch';
import type { ModelConfig } from '../model/config';
import { inputNormsOf, linearInputSquares } from '../model/inputs';

export interface InputNorms {
  norms: Map<string, Float32Array>;
  examples: number;
  tokens: number;
}

const PREFIX = 'norm/';

/** The cached norms when `file` exists and carries `key`, else null. */
export function readCachedInputNorms(file: string, key: string): InputNorms | null {
  if (!fs.existsSync(file)) return null;
  let f: SafetensorsFile;
  try {
    f = SafetensorsFile.open(file);
  } catch {
    return null;
  }
  try {
    if (f.metadata.key !== key) return null;
    const norms = new Map<string, Float32Array>();
    for (const k of f.tensors.keys()) if (k.startsWith(PREFIX)) norms.set(k.slice(PREFIX.length), f.readF32(k));
    return { norms, examples: Number(f.metadata.examples), tokens: Number(f.metadata.tokens) };
  } finally {
    f.close();
  }
}

/** One forward pass over `batches` at θpre; writes the norms to `file` (atomically) and returns them. */
export async function inputNormsToFile(cfg: ModelConfig, base: Checkpoint, batches: readonly Batch[], file: string, metadata: Record<string, string>, progress: Progress): Promise<InputNorms> {
  progress.start(cfg.numLayers + 2, metadata.label ?? 'activations');
  const r = await linearInputSquares(cfg, base, batches, () => progress.tick());
  progress.stop();
  const norms = inputNormsOf(r.sums);
  const names = base.names().filter((n) => norms.has(n));
  for (const n of norms.keys()) {
    if (!base.has(n)) throw new SilError('CHECKPOINT_MISMATCH', 'layer input for a tensor the checkpoint does not store', { file: base.location, tensor: n });
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const specs = names.map((n) => ({ name: `${PREFIX}${n}`, dtype: 'F32' as const, shape: [norms.get(n)!.length] }));
  const w = SafetensorsWriter.create(file, specs, { format: 'pt', ...metadata, examples: String(r.examples), tokens: String(r.tokens) });
  try {
    for (const n of names) w.write(`${PREFIX}${n}`, norms.get(n)!);
    w.close();
  } catch (e) {
    w.abort();
    throw e;
  }
  return { norms, examples: r.examples, tokens: r.tokens };
}
