/**
 * Weights of the layers being streamed, by checkpoint tensor name (the `Params` view that
 * `decoderLayer` reads), with the kept transpose of each 2-D weight for the fast linear layer.
 * Loading reads a tensor from the source once: on webgpu, BF16/F16 halves go to the GPU as stored
 * and are widened there (decode.ts); elsewhere they are decoded to float32 on the host.
 */
import * as tf from '@tensorflow/tfjs';
import type { Params } from '../model/layer';
import { LoadedWeights } from '../model/weights';
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

export class StreamWeights extends LoadedWeights<RangedSource> implements Params {
  /** Loads the tensor and, for a 2-D weight, keeps its transpose for the fast linear layer. */
  protected override upload(name: string, shape: number[]): tf.Tensor {
    const t = tf.keep(loadTensor(this.source, name, shape));
    if (shape.length === 2) this.transposed.set(name, tf.keep(tf.transpose(t)));
    return t;
  }

  override getT(name: string): tf.Tensor {
    const t = this.transposed.get(name);
    if (!t) throw new Error(`transposed weight not loaded: ${name}`);
    return t;
  }
}
