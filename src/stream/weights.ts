/**
 * Weights of the layers being streamed, by checkpoint tensor name (the `Params` view that
 * `decoderLayer` reads), and row chunks of the embedding / head. Loading reads a tensor from the
 * source once: on webgpu, BF16/F16 halves go to the GPU as stored and are widened there (decode.ts);
 * elsewhere they are decoded to float32 on the host. One instance may serve many passes: what a
 * pass keeps (its weight cache) is then uploaded only once.
 */
import * as tf from '@tensorflow/tfjs';
import type { Params } from '../model/layer';
import { LoadedWeights } from '../model/weights';
import { decodeOnCuda, decodeOnDevice } from './decode';

/** A checkpoint-like source: element ranges as float32, and (optionally) as stored bytes. */
export interface RangedSource {
  readF32(name: string, start?: number, end?: number): Float32Array;
  readBytes?(name: string, start?: number, end?: number, into?: Uint8Array): Uint8Array;
  info?(name: string): { shape: number[]; dtype?: string };
}

/** Whether `name`'s stored bytes go to the current backend as they are, to be widened there (webgpu, cuda: BF16 and F16). */
export function decodesOnBackend(src: RangedSource, name: string): boolean {
  const dtype = src.info?.(name).dtype;
  const backend = tf.getBackend();
  return src.readBytes !== undefined && (dtype === 'BF16' || dtype === 'F16') && (backend === 'webgpu' || backend === 'cuda');
}

/** A float32 tensor of `shape` from `name`'s stored bytes `raw`, widened on the backend (see `decodesOnBackend`). */
export function decodeBytes(src: RangedSource, name: string, raw: Uint8Array, shape: number[]): tf.Tensor {
  const dtype = src.info!(name).dtype as 'BF16' | 'F16';
  return tf.getBackend() === 'cuda' ? decodeOnCuda(raw, dtype, shape) : decodeOnDevice(raw, dtype, shape)!;
}

/** Elements [start, end) of `name` as a float32 tensor of `shape` on the current backend. */
export function loadTensor(src: RangedSource, name: string, shape: number[], start = 0, end?: number): tf.Tensor {
  if (decodesOnBackend(src, name)) return decodeBytes(src, name, src.readBytes!(name, start, end), shape);
  return tf.tensor(src.readF32(name, start, end), shape, 'float32');
}

export class StreamWeights extends LoadedWeights<RangedSource> implements Params {
  /** kept row chunks per tensor, keyed by first row (one chunking at a time: see `rows`) */
  private readonly chunks = new Map<string, Map<number, tf.Tensor2D>>();

  protected override upload(name: string, shape: number[]): tf.Tensor {
    return loadTensor(this.source, name, shape);
  }

  /** The transpose of a loaded 2-D weight, made on first use (the linear layers do not need it). */
  override getT(name: string): tf.Tensor {
    let t = this.transposed.get(name);
    if (!t) {
      const w = this.get(name);
      t = tf.keep(tf.tidy(() => tf.transpose(w)));
      this.transposed.set(name, t);
    }
    return t;
  }

  /**
   * Rows [r0, r1) of the 2-D tensor `name` of width `width`. With `keep` the chunk stays uploaded
   * for later calls with `keep` (the caller must not dispose it); otherwise the caller owns a fresh copy. Kept chunks
   * follow one chunking: a pass that chunks differently (another first chunk) replaces them.
   */
  rows(name: string, r0: number, r1: number, width: number, keep: boolean): tf.Tensor2D {
    if (!keep) return loadTensor(this.source, name, [r1 - r0, width], r0 * width, r1 * width) as tf.Tensor2D;
    let kept = this.chunks.get(name);
    const have = kept?.get(r0);
    if (have && have.shape[0] === r1 - r0) return have;
    const t = loadTensor(this.source, name, [r1 - r0, width], r0 * width, r1 * width) as tf.Tensor2D;
    if (kept && r0 === 0) {
      tf.dispose([...kept.values()]);
      kept = undefined;
    }
    if (!kept) this.chunks.set(name, (kept = new Map()));
    kept.get(r0)?.dispose();
    kept.set(r0, tf.keep(t));
    return t;
  }

  override dispose(): void {
    super.dispose();
    for (const k of this.chunks.values()) tf.dispose([...k.values()]);
    this.chunks.clear();
  }
}
