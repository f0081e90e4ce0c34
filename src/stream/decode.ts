/**
 * BF16 / F16 → float32 on the GPU (webgpu backend): the stored halves are uploaded as they are
 * (half the bytes of float32, no decoding on the CPU) and widened by a small WGSL kernel:
 *   bf16: f32 bits = half << 16                      (element 2k is the low half of word k)
 *   f16:  unpack2x16float(word k) → (element 2k, element 2k+1)
 * On other backends, or other dtypes, `decodeOnDevice` returns null and the caller decodes on the
 * host (io/dtype.ts). A parity test on the GPU (bf16 and f16 goldens) holds the two equal.
 */
import * as tf from '@tensorflow/tfjs';
import type { CudaBackend } from '../cuda/backend';
import { decodeHalves } from '../cuda/ops';

type Kind = 'BF16' | 'F16';

interface Program {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  size: boolean;
  getUserCode(): string;
}

interface WebGpuLike {
  runWebGPUProgram(program: Program, inputs: tf.TensorInfo[], dtype: tf.DataType): tf.TensorInfo;
}

function program(n: number, kind: Kind): Program {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { webgpu_util: u } = require('@tensorflow/tfjs-backend-webgpu') as {
    webgpu_util: {
      flatDispatchLayout(shape: number[]): { x: number[] };
      computeDispatch(layout: { x: number[] }, shape: number[], wg: [number, number, number]): [number, number, number];
    };
  };
  const workgroupSize: [number, number, number] = [256, 1, 1];
  const outputShape = [n];
  const dispatchLayout = u.flatDispatchLayout(outputShape);
  const body =
    kind === 'BF16'
      ? `let w = bitcast<u32>(A[index / 2]);
          var bits = w << 16u;
          if ((index & 1) == 1) { bits = w & 0xffff0000u; }
          setOutputAtIndex(index, bitcast<f32>(bits));`
      : `let v = unpack2x16float(bitcast<u32>(A[index / 2]));
          var x = v.x;
          if ((index & 1) == 1) { x = v.y; }
          setOutputAtIndex(index, x);`;
  return {
    variableNames: ['A'],
    outputShape,
    shaderKey: `sil_decode_${kind}`,
    dispatchLayout,
    dispatch: u.computeDispatch(dispatchLayout, outputShape, workgroupSize),
    workgroupSize,
    size: true,
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${body}
        }
      }`,
  };
}

/** A float32 tensor of `shape` from stored halves `raw`, widened on the GPU; null when not on webgpu. */
export function decodeOnDevice(raw: Uint8Array, dtype: string, shape: number[]): tf.Tensor | null {
  if (tf.getBackend() !== 'webgpu' || (dtype !== 'BF16' && dtype !== 'F16')) return null;
  const n = shape.reduce((a, b) => a * b, 1);
  let bytes = raw;
  if (bytes.byteLength % 4 !== 0 || bytes.byteOffset % 4 !== 0) {
    bytes = new Uint8Array(Math.ceil(raw.byteLength / 4) * 4);
    bytes.set(raw);
  }
  const words = tf.tensor1d(new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4), 'int32');
  try {
    const info = (tf.backend() as unknown as WebGpuLike).runWebGPUProgram(program(n, dtype), [words], 'float32');
    const flat = tf.engine().makeTensorFromTensorInfo(info);
    const out = tf.reshape(flat, shape);
    flat.dispose();
    return out;
  } finally {
    words.dispose();
  }
}

/** A float32 tensor of `shape` from stored halves `raw`, widened on the GPU by the cuda backend. */
export function decodeOnCuda(raw: Uint8Array, dtype: 'BF16' | 'F16', shape: number[]): tf.Tensor {
  const b = tf.backend() as CudaBackend;
  const info = decodeHalves(b, raw, dtype, shape);
  return tf.engine().makeTensorFromTensorInfo(info);
}
