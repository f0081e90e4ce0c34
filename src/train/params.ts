/**
 * Trainable parameters as float32 master copies in plain typed arrays, keyed by checkpoint tensor
 * names (the order of `allParamNames`), plus how to load them from a checkpoint, initialise them
 * from scratch, and save them back as a Hugging Face folder.
 *
 * Scratch initialisation follows transformers' Llama `_init_weights`: every linear and embedding
 * weight ~ N(0, initializer_range²) (0.02 by default), biases 0, RMSNorm weights 1.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SilError } from '../errors';
import { withAtomicDir } from '../io/atomic';
import { prepareOutputDir, writeMarker } from '../io/outpath';
import { type Checkpoint } from '../io/checkpoint';
import { type Dtype, isFloatDtype } from '../io/dtype';
import { ShardedWriter, type TensorSpec } from '../io/writer';
import type { ModelConfig } from '../model/config';
import { allParamNames, paramShape } from '../model/names';
import type { WeightSource } from '../model/weights';
import { mulberry32 } from './rng';

export class ParamStore implements WeightSource {
  constructor(
    readonly cfg: ModelConfig,
    /** parameter name → float32 master weights (row-major, the checkpoint's shape) */
    readonly data: Map<string, Float32Array>,
  ) {}

  names(): string[] {
    return [...this.data.keys()];
  }

  readF32(name: string): Float32Array {
    const d = this.data.get(name);
    if (!d) throw new SilError('TENSOR_NOT_FOUND', 'no such trainable parameter', { tensor: name });
    return d;
  }

  info(name: string): { shape: number[] } {
    return { shape: paramShape(this.cfg, name) };
  }

  numel(): number {
    let n = 0;
    for (const d of this.data.values()) n += d.length;
    return n;
  }

  /** Every model parameter of a checkpoint, decoded to float32. */
  static fromCheckpoint(cfg: ModelConfig, ckpt: Checkpoint): ParamStore {
    const data = new Map<string, Float32Array>();
    for (const name of allParamNames(cfg)) {
      const shape = paramShape(cfg, name);
      const stored = ckpt.info(name).shape;
      if (stored.join(',') !== shape.join(',')) {
        throw new SilError('CHECKPOINT_MISMATCH', `stored shape [${stored}] differs from the configured [${shape}]`, { file: ckpt.location, tensor: name });
      }
      data.set(name, new Float32Array(ckpt.readF32(name)));
    }
    return new ParamStore(cfg, data);
  }

  /** Scratch initialisation (see the module comment), seeded. */
  static init(cfg: ModelConfig, seed: number, std = 0.02): ParamStore {
    const rng = mulberry32(seed);
    const data = new Map<string, Float32Array>();
    for (const name of allParamNames(cfg)) {
      const shape = paramShape(cfg, name);
      const a = new Float32Array(shape.reduce((x, y) => x * y, 1));
      if (name.endsWith('norm.weight')) a.fill(1);
      else if (!name.endsWith('.bias')) for (let i = 0; i < a.length; i++) a[i] = rng.normal() * std;
      data.set(name, a);
    }
    return new ParamStore(cfg, data);
  }
}

/** Files of a checkpoint folder that are not weights (config, tokenizer, generation config, …). */
export function nonWeightFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.endsWith('.safetensors') && e.name !== 'model.safetensors.index.json' && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
}

export interface SaveOptions {
  /** the checkpoint whose tensor list, order, dtypes and non-weight files the output mirrors */
  like?: Checkpoint;
  /** dtype of every tensor when there is no `like` checkpoint (default BF16) */
  dtype?: Dtype;
  /** extra files to write into the folder (name → content), e.g. config.json for a scratch model */
  files?: Record<string, string | Uint8Array>;
  /** replace an existing folder (one that sil wrote) */
  force?: boolean;
  /** other files the output must not overlap (data, masks) */
  inputs?: Array<string | undefined>;
  /** the command named in the folder's marker (default finetune), and more for the marker */
  command?: string;
  marker?: Record<string, unknown>;
  maxShardSize?: string;
  metadata?: Record<string, string>;
}

/**
 * Writes `params` as a Hugging Face checkpoint folder, atomically (built in a temporary sibling,
 * moved into place on success). With `like`, every tensor of that checkpoint is written under its
 * name, in its order and dtype — trained parameters re-encoded from float32 (round to nearest
 * even), anything else copied byte for byte — and its non-weight files are copied.
 */
export async function saveCheckpoint(params: ParamStore, out: string, o: SaveOptions = {}): Promise<string[]> {
  const like = o.like;
  const target = prepareOutputDir({ out, kind: 'dir', inputs: [like?.location, ...(o.inputs ?? [])], force: o.force });
  const specs: TensorSpec[] = like
    ? like.names().map((name) => ({ name, dtype: like.info(name).dtype as Dtype, shape: like.info(name).shape }))
    : params.names().map((name) => ({ name, dtype: o.dtype ?? 'BF16', shape: paramShape(params.cfg, name) }));
  for (const s of specs) {
    if (params.data.has(s.name) && !isFloatDtype(s.dtype)) {
      throw new SilError('UNSUPPORTED_OPTION', `a trained parameter is stored as ${s.dtype}; only float dtypes can be written back`, { tensor: s.name });
    }
  }
  await withAtomicDir(
    target.path,
    (tmp) => {
      if (like) for (const f of nonWeightFiles(like.dir)) fs.copyFileSync(path.join(like.dir, f), path.join(tmp, f));
      for (const [f, content] of Object.entries(o.files ?? {})) fs.writeFileSync(path.join(tmp, f), content);
      const w = new ShardedWriter(tmp, specs, { maxShardSize: o.maxShardSize, metadata: { format: 'pt', ...(o.metadata ?? {}) } });
      try {
        for (const s of specs) {
          const d = params.data.get(s.name);
          if (d) w.write(s.name, d);
          else w.write(s.name, like!.readBytes(s.name));
        }
        w.close();
      } catch (e) {
        w.abort();
        throw e;
      }
      writeMarker(tmp, o.command ?? 'finetune', o.marker);
    },
    target.replace,
  );
  return specs.map((s) => s.name);
}
