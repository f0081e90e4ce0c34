/**
 * The layer-streamed gradient source for `sil locate` (see locate/source.ts): ∇θ Σₓ L(x) of each
 * batch — the streamed pass with denominator 1 gives the gradient of the summed token loss directly
 * — handed over as whole tensors. locate/source.ts opens it when the plan (`planGradients`) says a
 * model does not fit in memory, or with `--stream always`.
 *
 * Where the backend's memory budget allows (model/planner `deviceBudget`, `fitsOnDevice`), the
 * weights are uploaded once for all batches (the weight cache is shared between passes), and when
 * it also holds one float32 sum per parameter and field, the sums stay on the backend across
 * batches (`sums`: GradSums, read back once) instead of every batch's gradients being read back.
 * On wasm each layer takes a batch as many sequences at a time as the 4 GB heap allows.
 */
import type { GradientSource, SourceContext } from '../model/source';
import { isGpuBackend, useBackend } from '../model/backend';
import type { Batch } from '../model/batch';
import { linearWeight, paramShape } from '../model/names';
import { bindingBytes, cudaWeightStorage, defaultSequencesPerGroup, deviceBudget, fitsOnDevice, modelParamCount, modelWeightBytes, planStreaming } from '../model/planner';
import { streamedGradients, type StreamOptions, streamSteps, wholeTensors } from './engine';
import { GradSums } from './sums';
import { StreamWeights } from './weights';

export async function openStreamedSource(ctx: SourceContext): Promise<GradientSource> {
  const backend = await useBackend(ctx.backend, { blas: ctx.blas });
  const cfg = ctx.config;
  const size = (n: string) => paramShape(cfg, n).reduce((a, b) => a * b, 1);
  const onDevice = isGpuBackend(backend.name);
  const storage = cudaWeightStorage(backend.name, ctx.checkpoint.info?.(linearWeight(0, 'q')).dtype);
  const base: StreamOptions = { denominator: 1, boundaries: onDevice ? 'device' : 'host', maxBindingBytes: bindingBytes(backend.name), weightStorage: storage };
  const weightBytes = modelWeightBytes(cfg, storage);
  const budget = deviceBudget(backend.name).bytes;
  const stage = (units: readonly Batch[]) => Math.max(0, ...units.map((u) => planStreaming(cfg, u.input_ids.length, u.input_ids[0]?.length ?? 0, base).devicePeakBytes));
  let weights: StreamWeights | null = null;
  /** the weights shared by every pass when they fit beside one stage (and `sums` sums of their size), else null */
  const sharedWeights = (units: readonly Batch[], sums: number): StreamWeights | null => {
    if (!fitsOnDevice(cfg, budget, stage(units), sums, storage)) return null;
    return (weights ??= new StreamWeights(cfg, ctx.checkpoint));
  };
  return {
    kind: 'streamed',
    backend,
    workers: 1,
    parallel: 1,
    stepsPerUnit: streamSteps(cfg),
    async gradients(batch: Batch, consume, onStep) {
      const sink = wholeTensors(size, (name, g) => consume(name, g));
      const w = sharedWeights([batch], 0);
      const perGroup = defaultSequencesPerGroup(cfg, backend.name, batch.input_ids.length, batch.input_ids[0]?.length ?? 0);
      const r = await streamedGradients(cfg, ctx.checkpoint, batch, sink, {
        ...base,
        sequencesPerGroup: perGroup,
        onStep,
        deviceBudgetBytes: budget,
        ...(w ? { weights: w, weightCacheBytes: weightBytes, embeddingOnDevice: true } : {}),
      });
      return { loss: r.loss, tokens: r.count };
    },
    canSum(units, fields) {
      return fields.length > 0 && fitsOnDevice(cfg, budget, stage(units), fields.length, storage);
    },
    async sums(units, fields, onUnit, consume, onStep) {
      const w = sharedWeights(units, fields.length);
      if (!w) throw new Error('sums: the weights and sums do not fit the device budget (ask canSum first)');
      const acc = new GradSums(fields);
      try {
        for (const u of units) {
          const r = await streamedGradients(cfg, ctx.checkpoint, u, (name, start, g) => acc.addHost(name, start, g), {
            ...base,
            weights: w,
            weightCacheBytes: weightBytes,
            embeddingOnDevice: true,
            onStep,
            deviceSink: (name, start, g) => acc.addTensor(name, start, g),
            deviceSums: (name) => acc.inPlace(name),
            deviceBudgetBytes: budget - fields.length * modelParamCount(cfg) * 4,
            rowSink: (name, rows, g) => acc.addRows(name, size(name), rows, g),
            deviceRowSums: (name) => acc.rowsInPlace(name, size(name)),
          });
          onUnit({ loss: r.loss, tokens: r.count }, u.input_ids.length);
        }
        await acc.drain(ctx.checkpoint.names(), consume);
      } finally {
        acc.dispose();
      }
    },
    async close() {
      weights?.dispose();
      weights = null;
    },
  };
}
