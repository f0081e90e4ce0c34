/**
 * Model weights on a TF.js backend, keyed by checkpoint tensor names, supplied by a loader
 * (`WeightSource`: a Checkpoint, or anything that decodes a named tensor to float32). Each weight is
 * held once: the linear layers multiply by W itself (see linear.ts); `getT` makes a transpose only
 * when asked for one, and keeps it until the weight is released.
 *
 * Weights are loaded per group (`loadNames`) and can be released per group (`release`), so a
 * layer-streamed pass can hold one decoder layer at a time.
 */
import * as tf from '@tensorflow/tfjs';
import { SilError } from '../errors';
import type { ModelConfig } from './config';
import { EMBED, LM_HEAD, paramShape } from './names';

export interface WeightSource extends ShapedSource {
  readF32(name: string): Float32Array;
}

/** What the shape check of `loadNames` asks of a source: the stored shape of a tensor, where it knows it. */
export interface ShapedSource {
  info?(name: string): { shape: number[] };
}

/**
 * Tensors held by checkpoint name, with the transposes made of them: loading (with the stored
 * shape checked against the configured one), lookup and release. Subclasses say how a tensor is
 * uploaded (`upload`) and when a transpose is made.
 */
export abstract class LoadedWeights<S extends ShapedSource> {
  protected readonly tensors = new Map<string, tf.Tensor>();
  protected readonly transposed = new Map<string, tf.Tensor>();

  constructor(
    readonly cfg: ModelConfig,
    readonly source: S,
  ) {}

  /** The named parameter of the configured `shape`, as a tensor on the current backend. */
  protected abstract upload(name: string, shape: number[]): tf.Tensor;

  /** Uploads the named parameters. */
  loadNames(names: string[]): void {
    for (const name of names) {
      if (this.tensors.has(name)) continue;
      const shape = paramShape(this.cfg, name);
      const stored = this.source.info?.(name).shape;
      if (stored && stored.join(',') !== shape.join(',')) {
        throw new SilError('CHECKPOINT_MISMATCH', `stored shape [${stored}] differs from the configured [${shape}]`, { tensor: name });
      }
      this.tensors.set(name, tf.keep(this.upload(name, shape)));
    }
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  get(name: string): tf.Tensor {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`weight not loaded: ${name}`);
    return t;
  }

  abstract getT(name: string): tf.Tensor;

  release(names: string[]): void {
    for (const name of names) {
      this.tensors.get(name)?.dispose();
      this.tensors.delete(name);
      this.transposed.get(name)?.dispose();
      this.transposed.delete(name);
    }
  }

  dispose(): void {
    this.release([...this.tensors.keys()]);
  }
}

export class Weights extends LoadedWeights<WeightSource> {
  protected override upload(name: string, shape: number[]): tf.Tensor {
    return tf.tensor(this.source.readF32(name), shape, 'float32');
  }

  /** The transpose of a loaded 2-D weight ([in, out]), made on first use; the head of a tied model is Eᵀ. */
  override getT(name: string): tf.Tensor {
    const key = name === LM_HEAD && this.cfg.tieWordEmbeddings ? EMBED : name;
    let t = this.transposed.get(key);
    if (!t) {
      const w = this.tensors.get(key);
      if (!w || w.rank !== 2) throw new Error(`transposed weight not loaded: ${name}`);
      t = tf.keep(tf.tidy(() => tf.transpose(w)));
      this.transposed.set(key, t);
    }
    return t;
  }

  /** Host copy of a loaded weight. */
  read(name: string): Float32Array {
    return this.get(name).dataSync() as Float32Array;
  }
}
