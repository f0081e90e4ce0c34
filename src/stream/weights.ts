/**
 * Weights of the layers being streamed, by checkpoint tensor name (the `Params` view that
 * `decoderLayer` reads), with the kept transpose of each 2-D weight for the fast linear layer.
 * Loading reads a tensor from the source once: on webgpu, BF16/F16 halves go to the GPU as stored
 * and are widened there (decode.ts); elsewhere they are decoded to float32 on the host.
 */
import * as tf from '@tensorflow/tfjs';
import { SilError } from '../errors';
import type { ModelConfig } from '../model/config';
import type { Params } from '../model/layer';
import { paramShape } from '../model/names';
import { decodeOnDevice } from './decode';

/** A checkpoint-like source: element ranges as float32, and (optionally) as stored bytes. */
export interface RangedSource {
  readF32(name: string, start?: number, end?: number): Float32Array;
  readBytes?(name: string, start?: number, end?: number): Uint8Array;
  info?(name: string): { shape: number[]; dtype?: string };
}

/** Elements [start, end) of `name` as a float32 tensor of `shape` on the current backend. */
export function loadTensor(src: RangedSource, name: string, shape: number[], start = 0, end?: number): tf.Tensor {
  const dtype = src.info?.(name).dtype;
  if (dtype && src.readBytes && tf.getBackend() === 'webgpu') {
    const t = decodeOnDevice(src.readBytes(name, start, end), dtype, shape);
    if (t) return t;
  }
  return tf.tensor(src.readF32(name, start, end), shape, 'float32');
}

export class StreamWeights implements Params {
  private readonly tensors = new Map<string, tf.Tensor>();
  private readonly transposed = new Map<string, tf.Tensor>();

  constructor(
    readonly cfg: ModelConfig,
    readonly source: RangedSource,
  ) {}

  loadNames(names: string[]): void {
    for (const name of names) {
      if (this.tensors.has(name)) continue;
      const shape = paramShape(this.cfg, name);
      const stored = this.source.info?.(name).shape;
      if (stored && stored.join(',') !== shape.join(',')) {
        throw new SilError('CHECKPOINT_MISMATCH', `stored shape [${stored}] differs from the configured [${shape}]`, { tensor: name });
      }
      const t = tf.keep(loadTensor(this.source, name, shape));
      this.tensors.set(name, t);
      if (shape.length === 2) this.transposed.set(name, tf.keep(tf.transpose(t)));
    }
  }

  get(name: string): tf.Tensor {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`weight not loaded: ${name}`);
    return t;
  }

  getT(name: string): tf.Tensor {
    const t = this.transposed.get(name);
    if (!t) throw new Error(`transposed weight not loaded: ${name}`);
    return t;
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
