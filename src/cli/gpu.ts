/** `--device N` and `--precision bf16|tf32|f32` for the commands that run a model (used by the cuda backend). */
import type { Command } from 'commander';
import { load } from './lazy';
import { PRECISIONS } from '../cuda/precision';

export function withGpuOptions(cmd: Command): Command {
  return cmd
    .option('--device <n>', 'cuda backend: the GPU to use (0, 1, …; as nvidia-smi numbers them unless CUDA_VISIBLE_DEVICES says otherwise)')
    .option('--precision <p>', `cuda backend: matrix products in ${PRECISIONS.join(' | ')} (bf16 inputs with f32 accumulation is the default; f32 is exact)`)
    .hook('preAction', async (c) => {
      const o = c.opts() as { device?: string; precision?: string };
      // the cuda module (and TF.js) only when the options are given: without them there is nothing to set
      if (o.device === undefined && o.precision === undefined) return;
      const { setCudaOptions } = load<typeof import('../cuda')>('../cuda');
      setCudaOptions({ device: o.device, precision: o.precision });
    });
}
