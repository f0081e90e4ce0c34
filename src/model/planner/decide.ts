/**
 * How a gradient pass runs, decided from the memory plans: in memory (on wasm worker threads or in
 * process, as many sequences per pass as fit) or layer-streamed (`planGradients`), and what
 * `--stream always | never | auto` makes of that (`chooseStreaming`): `auto` streams when one
 * in-memory model instance would not fit (the wasm heap, or the RAM budget), and always on webgpu,
 * where every read to the host must be async (the in-memory runtime reads synchronously).
 */
import * as os from 'node:os';
import { SilError } from '../../errors';
import type { ModelConfig } from '../config';
import { inMemoryBytes, inMemoryPassBytes, sequencesPerPass } from './inmemory';
import { instanceCap, ramBudget } from './limits';

export type StreamMode = 'always' | 'never' | 'auto';
export const STREAM_MODES: StreamMode[] = ['always', 'never', 'auto'];

export interface GradientPlan {
  mode: 'workers' | 'in-process' | 'streamed';
  workers: number;
  /** bytes per model instance of the in-memory plan */
  bytesPerInstance: number;
  /** sequences per in-memory pass (inmemory.ts; 0 with the streamed plan when not even one fits) */
  sequencesPerPass?: number;
  why: string;
}

/** The passes a plan is made for: the model's config and the longest sequence of any batch. */
export interface PassShape {
  config: ModelConfig;
  seqLen: number;
}

/**
 * Decides how gradients are computed: in memory on `threads` wasm workers (as many as RAM allows)
 * or in process, or layer-streamed when one in-memory instance would not fit (the wasm heap, or
 * the RAM budget; limits.ts). With the passes' shape the plan counts the logits and their gradients
 * too (`inMemoryPassBytes`, inmemory.ts): a pass takes as many sequences as fit, and a model whose single
 * sequence does not fit (a 152k vocabulary at long lengths) streams, its vocabulary in chunks.
 */
export function planGradients(params: number, backend: string, threads: number, ramBytes = os.totalmem(), shape?: PassShape): GradientPlan {
  const ram = ramBudget(ramBytes);
  const cap = Math.min(instanceCap(backend, ramBytes), ram);
  const per0 = inMemoryBytes(params);
  const perSeqs = shape ? sequencesPerPass(shape.config, shape.seqLen, cap) : undefined;
  // what one instance holds at its peak: the whole heap it may fill, or the weights alone without a shape
  const per = shape ? Math.min(cap, inMemoryPassBytes(shape.config, Math.max(1, perSeqs!), shape.seqLen)) : per0;
  const gb = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
  if (backend === 'webgpu') {
    // GPU reads must be asynchronous; the layer-streamed engine is the runtime's async path
    return { mode: 'streamed', workers: 1, bytesPerInstance: per, why: 'webgpu runs the layer-streamed engine (asynchronous GPU reads)' };
  }
  if (backend === 'cuda') {
    // the streamed engine keeps boundaries, cached weights and gradient sums in GPU memory
    return { mode: 'streamed', workers: 1, bytesPerInstance: per, why: 'cuda runs the layer-streamed engine (weights and gradient sums kept in GPU memory)' };
  }
  if (per0 > cap) {
    return { mode: 'streamed', workers: 1, bytesPerInstance: per0, why: `${params} parameters need ≈${gb(per0)} in memory (limit ${gb(cap)})` };
  }
  if (shape && perSeqs === 0) {
    const one = inMemoryPassBytes(shape.config, 1, shape.seqLen);
    return {
      mode: 'streamed',
      workers: 1,
      bytesPerInstance: one,
      sequencesPerPass: 0,
      why: `one ${shape.seqLen}-token sequence with a ${shape.config.vocabSize}-entry vocabulary needs ≈${gb(one)} in memory, logits included (limit ${gb(cap)})`,
    };
  }
  const passes = shape ? `, ${perSeqs} sequence(s) of ≤ ${shape.seqLen} tokens per pass` : '';
  if (backend === 'wasm' && threads > 1) {
    const fit = Math.max(1, Math.min(threads, Math.floor(ram / per)));
    return { mode: 'workers', workers: fit, bytesPerInstance: per, sequencesPerPass: perSeqs, why: `${fit} wasm worker(s) × ≈${gb(per)}${passes}` };
  }
  return { mode: 'in-process', workers: 1, bytesPerInstance: per, sequencesPerPass: perSeqs, why: `one ${backend} instance, ≈${gb(per)}${passes}` };
}

export interface StreamDecision {
  stream: boolean;
  why: string;
}

/** `--stream MODE` on `backend`: whether the pass streams, and why (for the printed plan). */
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
