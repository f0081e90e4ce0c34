/**
 * Whether a gradient pass streams layers: `--stream always | never | auto`.
 * `auto` streams when one in-memory model instance would not fit (the wasm heap of 4 GB, or 80% of
 * RAM; see `planGradients`), and always on webgpu, where every read to the host must be async (the
 * in-memory runtime reads synchronously).
 */
import * as os from 'node:os';
import { SilError } from '../errors';
import { type PassShape, planGradients } from '../model/source';

export type StreamMode = 'always' | 'never' | 'auto';
export const STREAM_MODES: StreamMode[] = ['always', 'never', 'auto'];

export interface StreamDecision {
  stream: boolean;
  why: string;
}

export function chooseStreaming(mode: string, params: number, backend: string, threads: number, ramBytes = os.totalmem(), shape?: PassShape): StreamDecision {
  if (!STREAM_MODES.includes(mode as StreamMode)) throw new SilError('INVALID_ARGUMENT', `--stream must be one of ${STREAM_MODES.join(', ')}, got ${JSON.stringify(mode)}`);
  if (backend === 'webgpu') {
    if (mode === 'never') throw new SilError('UNSUPPORTED_OPTION', '--stream never is not available on webgpu: the GPU is read asynchronously, which only the layer-streamed pass does');
    return { stream: true, why: 'webgpu runs the layer-streamed pass (async reads)' };
  }
  if (backend === 'cuda' && mode !== 'never') {
    return { stream: true, why: mode === 'always' ? '--stream always' : 'cuda runs the layer-streamed pass (weights and sums kept in GPU memory as they fit)' };
  }
  if (mode === 'always') return { stream: true, why: '--stream always' };
  const plan = planGradients(params, backend, threads, ramBytes, shape);
  if (mode === 'never') return { stream: false, why: `--stream never (${plan.why})` };
  return plan.mode === 'streamed' ? { stream: true, why: `the model does not fit in memory: ${plan.why}` } : { stream: false, why: `fits in memory: ${plan.why}` };
}
