/**
 * The layer-streamed gradient source for `sil locate` (see locate/source.ts): ∇θ Σₓ L(x) of each
 * batch — the streamed pass with denominator 1 gives the gradient of the summed token loss directly
 * — handed over as whole tensors. Registered on import; the CLI imports it (cli/grad.ts), so
 * `planGradients` can pick it whenever a model does not fit in memory.
 */
import { GradientSource, registerStreamedSource, SourceContext } from '../locate/source';
import { useBackend } from '../model/backend';
import type { Batch } from '../model/batch';
import { paramShape } from '../model/names';
import { streamedGradients, wholeTensors } from './engine';

export async function openStreamedSource(ctx: SourceContext): Promise<GradientSource> {
  const backend = await useBackend(ctx.backend);
  const cfg = ctx.config;
  const size = (n: string) => paramShape(cfg, n).reduce((a, b) => a * b, 1);
  return {
    kind: 'streamed',
    backend,
    workers: 1,
    parallel: 1,
    async gradients(batch: Batch, consume) {
      const sink = wholeTensors(size, (name, g) => consume(name, g));
      const r = await streamedGradients(cfg, ctx.checkpoint, batch, sink, {
        denominator: 1,
        boundaries: backend.name === 'webgpu' ? 'device' : 'host',
        maxBindingBytes: backend.name === 'webgpu' ? 2 ** 30 : undefined,
      });
      return { loss: r.loss, tokens: r.count };
    },
    async close() {},
  };
}

registerStreamedSource(openStreamedSource);
