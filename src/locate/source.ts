/**
 * Where `sil locate` gets its gradients: the plan (`planGradients`, model/planner) picks the
 * in-memory sources of model/source.ts or the layer-streamed source of stream/source.ts.
 * `--grads FILE` bypasses sources altogether (see gradfile.ts).
 */
import * as os from 'node:os';
import { useBackend } from '../model/backend';
import { type GradientPlan, planGradients } from '../model/planner';
import { type GradientSource, openInMemorySource, type SourceContext } from '../model/source';
import { openStreamedSource } from '../stream/source';

export type { BatchResult, GradConsumer, GradientSource, SourceContext, SumConsumer } from '../model/source';
export type { GradientPlan } from '../model/planner';

/** Starts the source the plan calls for. */
export async function openGradientSource(ctx: SourceContext): Promise<{ source: GradientSource; plan: GradientPlan }> {
  const selected = await useBackend(ctx.backend, { blas: ctx.blas });
  const shape = ctx.maxSeqLen ? { config: ctx.config, seqLen: ctx.maxSeqLen } : undefined;
  const planned = planGradients(ctx.checkpoint.numel(), selected.name, ctx.threads, os.totalmem(), shape);
  const plan: GradientPlan = ctx.stream === 'always' && planned.mode !== 'streamed' ? { ...planned, mode: 'streamed', workers: 1, why: `--stream always (${planned.why})` } : planned;
  if (plan.mode === 'streamed') return { source: await openStreamedSource(ctx), plan };
  return { source: await openInMemorySource(ctx, plan, selected), plan };
}
