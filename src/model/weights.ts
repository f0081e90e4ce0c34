/**
 * Model weights on a TF.js backend, keyed by checkpoint tensor names, supplied by a loader
 * (`WeightSource`: a Checkpoint, or anything that decodes a named tensor to float32). Every 2-D
 * linear weight also keeps its transpose for the fast linear layer (see linear.ts).
 *
 * Weights are loaded per group (`loadNames`) and can be released per group (`release`), so a
 * layer-streamed pass can hold one decoder layer at a time.
 */
import * as tf from '@tensorflow/tfjs';
import { SilError } from '../errors';
import type { ModelConfig } from './config';
import { EMBED, LM_HEAD, paramShape } from './names';

export interface WeightSource {
  readF32(name: string): Float32Array;
  info?(name: string): { shape: number[] };
}

export class Weights {
  private readonly tensors = new Map<string, tf.Tensor>();
  private readonly transposed = new Map<string, tf.Tensor>();

  constructor(readonly cfg: ModelConfig, readonly source: WeightSource) {}

  /** Uploads the named parameters (and the kept transposes of linear weights). */
  loadNames(names: string[]): void {
    for (const name of names) {
      if (this.tensors.has(name)) continue;
      const shape = paramShape(this.cfg, name);
      const stored = this.source.info?.(name).shape;
      if (stored && stored.join(',') !== shape.join(',')) {
        throw new SilError('CHECKPOINT_MISMATCH', `stored shape [${stored}] differs from the configured [${shape}]`, { tensor: name });
      }
      const data = this.source.readF32(name);
      const t = tf.keep(tf.tensor(data, shape, 'float32'));
      this.tensors.set(name, t);
      if (shape.length === 2 && name !== EMBED) this.transposed.set(name, tf.keep(tf.transpose(t)));
    }
    if (this.cfg.tieWordEmbeddings && names.includes(EMBED) && !this.transposed.has(EMBED)) {
      this.transposed.set(EMBED, tf.keep(tf.transpose(this.tensors.get(EMBED)!)));
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

  /** The kept transpose of a 2-D weight ([in, out]); the head of a tied model is Eᵀ. */
  getT(name: string): tf.Tensor {
    const key = name === LM_HEAD && this.cfg.tieWordEmbeddings ? EMBED : name;
    const t = this.transposed.get(key);
    if (!t) throw new Error(`transposed weight not loaded: ${name}`);
    return t;
  }

  /** Host copy of a loaded weight. */
  read(name: string): Float32Array {
    return this.get(name).dataSync() as Float32Array;
  }

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
