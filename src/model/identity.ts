/**
 * `tf.clone` without a copy on the wasm backend. TF.js's engine clones every tensor a kernel saves
 * for its gradient (`saveTensorsForBackwardMode`): both operands of every product — the weights
 * too — and both factors of every multiplication. The wasm backend's Identity kernel copies the
 * data each time, so a gradient step copied every weight and most activations once more, in time
 * and in heap. TF.js tensors are immutable, and the cpu backend's Identity (like wasm's own
 * Reshape) already shares the data and counts a reference instead; this kernel does the same on
 * wasm. Strings keep the original kernel.
 */
import * as tf from '@tensorflow/tfjs';

interface RefCounting {
  incRef(dataId: unknown): void;
}

let installed = false;

/** Replaces the wasm backend's Identity kernel by one that shares the data (once per thread). */
export function installSharedIdentity(): void {
  if (installed) return;
  const orig = tf.getKernel(tf.Identity, 'wasm');
  if (!orig) return;
  tf.unregisterKernel(tf.Identity, 'wasm');
  tf.registerKernel({
    ...orig,
    kernelFunc: (args) => {
      const { x } = args.inputs as { x: tf.TensorInfo };
      if (x.dtype === 'string') return orig.kernelFunc(args);
      (args.backend as unknown as RefCounting).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  });
  installed = true;
}
