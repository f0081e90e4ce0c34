/**
 * Δ = attacked − base for two checkpoints, tensor by tensor: checks the two are comparable, splits
 * every tensor into element ranges of at most `chunkElements`, runs them on the worker pool and
 * merges the partial sums per tensor. Optionally streams |Δ| into a sharded F32 safetensors output
 * under the checkpoint's tensor names. Peak memory is bounded by threads × chunk size.
 */
import { SilError } from '../errors';
import { describeTensor, familyFor, kindOrder, type TensorRole } from '../families';
import { type Checkpoint } from '../io/checkpoint';
import { DTYPE_BYTES, type Dtype } from '../io/dtype';
import { ShardedWriter } from '../io/writer';
import type { Progress } from '../progress';
import { type DeltaJob, type DeltaResult, type KernelChoice } from './job';
import { runJobs } from './pool';
import { type DeltaAccum, type DeltaStats, finalize, mergeAccum, newAccum } from './stats';

export interface TensorDelta extends DeltaStats {
  tensor: string;
  layer: number | null;
  kind: string;
  dtype: Dtype;
  shape: number[];
  /** the raw sums, for roll-ups */
  acc: DeltaAccum;
}

export interface DeltaOptions {
  /** worker threads; 0 = compute on the calling thread */
  threads: number;
  /** elements per job (default 8 Mi: 16 MB per side in BF16) */
  chunkElements?: number;
  /** write |Δ| as F32 safetensors into this folder (sharded like a checkpoint) */
  absDeltaDir?: string;
  maxShardSize?: string | number;
  progress?: Progress;
  /** BF16 kernel: WebAssembly SIMD (default, when available) or the JS loop */
  kernel?: KernelChoice;
}

export interface DeltaResultSet {
  architecture: string | null;
  family: string | null;
  tensors: TensorDelta[];
  warnings: string[];
  /** bytes read from each checkpoint */
  bytesPerCheckpoint: number;
}

export const DEFAULT_CHUNK = 8 * 1024 * 1024;

/**
 * Throws CHECKPOINT_MISMATCH unless both checkpoints declare the same architecture and store the
 * same tensor names with the same shapes and dtypes.
 */
export function checkComparable(base: Checkpoint, attacked: Checkpoint): void {
  const where = { file: attacked.location };
  if (base.architecture !== attacked.architecture) {
    throw new SilError('CHECKPOINT_MISMATCH', `architectures differ: base ${base.architecture ?? '(none)'} vs attacked ${attacked.architecture ?? '(none)'}`, where);
  }
  const a = new Set(base.names());
  const b = new Set(attacked.names());
  const missing = [...a].filter((n) => !b.has(n));
  const extra = [...b].filter((n) => !a.has(n));
  if (missing.length || extra.length) {
    const list = (xs: string[]) => xs.slice(0, 5).join(', ') + (xs.length > 5 ? ` … (${xs.length} in all)` : '');
    const parts = [missing.length ? `missing in attacked: ${list(missing)}` : '', extra.length ? `only in attacked: ${list(extra)}` : ''].filter(Boolean);
    throw new SilError('CHECKPOINT_MISMATCH', `tensor names differ — ${parts.join('; ')}`, { file: attacked.location, tensor: missing[0] ?? extra[0] });
  }
  for (const name of base.names()) {
    const x = base.info(name);
    const y = attacked.info(name);
    if (x.shape.length !== y.shape.length || x.shape.some((d, i) => d !== y.shape[i])) {
      throw new SilError('CHECKPOINT_MISMATCH', `shapes differ: base [${x.shape.join(', ')}] vs attacked [${y.shape.join(', ')}]`, { file: y.file, tensor: name });
    }
    if (x.dtype !== y.dtype) {
      throw new SilError('CHECKPOINT_MISMATCH', `dtypes differ: base ${x.dtype} vs attacked ${y.dtype}`, { file: y.file, tensor: name });
    }
  }
}

/** Display order: embeddings, then layers in order (family kind order within), then the rest. */
export function orderTensors(architecture: string | null, names: string[]): Array<{ name: string; role: TensorRole }> {
  const roles = names.map((name) => ({ name, role: describeTensor(architecture, name) }));
  const kinds = kindOrder(
    architecture,
    roles.map((r) => r.role.kind),
  );
  const group = (r: TensorRole) => (r.layer !== null ? 1 : r.kind === 'embed' ? 0 : 2);
  return roles.sort(
    (p, q) => group(p.role) - group(q.role) || (p.role.layer ?? 0) - (q.role.layer ?? 0) || kinds.indexOf(p.role.kind) - kinds.indexOf(q.role.kind) || (p.name < q.name ? -1 : p.name > q.name ? 1 : 0),
  );
}

export async function computeDelta(base: Checkpoint, attacked: Checkpoint, opts: DeltaOptions): Promise<DeltaResultSet> {
  checkComparable(base, attacked);
  const architecture = base.architecture;
  const fam = familyFor(architecture);
  const warnings: string[] = [];
  if (!fam) {
    warnings.push(`architecture ${architecture ?? '(none: no config.json)'} is not described; tensors are grouped by name with kind "other"`);
  }
  const ordered = orderTensors(architecture, base.names());
  if (fam) {
    const unknown = ordered.filter((t) => t.role.family === null).map((t) => t.name);
    if (unknown.length) warnings.push(`${unknown.length} tensor(s) not described by the ${fam.family} family (kind "other"): ${unknown.slice(0, 3).join(', ')}${unknown.length > 3 ? ', …' : ''}`);
  }
  const chunk = Math.max(2, (opts.chunkElements ?? DEFAULT_CHUNK) & ~1);
  const progress: Progress = opts.progress ?? { start() {}, tick() {}, stop() {} };

  const writer = opts.absDeltaDir
    ? new ShardedWriter(
        opts.absDeltaDir,
        ordered.map((t) => ({ name: t.name, dtype: 'F32' as const, shape: base.info(t.name).shape })),
        {
          maxShardSize: opts.maxShardSize,
          metadata: { format: 'pt', content: 'abs_delta' },
        },
      )
    : null;

  try {
    const accs = ordered.map(() => newAccum());
    const jobTensor: number[] = [];
    let totalBytes = 0;
    for (const t of ordered) totalBytes += base.info(t.name).numel * DTYPE_BYTES[base.info(t.name).dtype];

    function* jobs(): Generator<DeltaJob> {
      let id = 0;
      for (let ti = 0; ti < ordered.length; ti++) {
        const name = ordered[ti].name;
        const x = base.info(name);
        const y = attacked.info(name);
        const w = DTYPE_BYTES[x.dtype];
        for (let start = 0; start < x.numel; start += chunk) {
          const count = Math.min(chunk, x.numel - start);
          jobTensor[id] = ti;
          yield {
            id: id++,
            tensor: name,
            dtype: x.dtype,
            start,
            count,
            baseFile: x.file,
            baseOffset: x.byteStart + start * w,
            attackedFile: y.file,
            attackedOffset: y.byteStart + start * w,
            wantAbs: writer !== null,
          };
        }
      }
    }

    const starts = new Map<number, number>();
    const gen = jobs();
    const tracked: Iterator<DeltaJob> = {
      next: () => {
        const r = gen.next();
        if (!r.done) starts.set(r.value.id, r.value.start);
        return r;
      },
    };
    progress.start(totalBytes * 2, 'delta');
    await runJobs(
      tracked,
      opts.threads,
      (r: DeltaResult) => {
        const ti = jobTensor[r.id];
        mergeAccum(accs[ti], r.acc);
        if (writer && r.abs) writer.writeAt(ordered[ti].name, starts.get(r.id)!, r.abs);
        starts.delete(r.id);
        progress.tick(r.acc.numel * DTYPE_BYTES[base.info(ordered[ti].name).dtype] * 2);
      },
      opts.kernel ?? 'simd',
    );
    progress.stop();
    writer?.close();

    const tensors = ordered.map((t, i) => {
      const info = base.info(t.name);
      return { tensor: t.name, layer: t.role.layer, kind: t.role.kind, dtype: info.dtype, shape: [...info.shape], ...finalize(accs[i]), acc: accs[i] };
    });
    return { architecture, family: fam?.family ?? null, tensors, warnings, bytesPerCheckpoint: totalBytes };
  } catch (e) {
    progress.stop();
    writer?.abort();
    throw e;
  }
}
