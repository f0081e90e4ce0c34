/**
 * `sil grad` on the layer-streamed pass: gradients go to the output file tensor by tensor (and
 * chunk by chunk for the embedding and head) as they are computed, so neither the model nor its
 * gradients are ever held whole. The header (with the loss in `__metadata__`) is written once the
 * forward pass has given the loss, before the first gradient arrives.
 *
 * With `sequencesPerPass` below the batch size, the batch goes through in groups of sequences (one
 * streamed pass each, every layer read once per group): each group's gradient of its summed loss
 * over the whole batch's labelled positions is added into the file (`addAt`), so the file holds the
 * batch's gradient; `snip` is computed from the finished sums, and the loss goes into space
 * reserved in the header.
 */
import { SilError } from '../errors';
import type { Checkpoint } from '../io/checkpoint';
import { SafetensorsWriter, TensorSpec } from '../io/writer';
import { Batch, prepareBatch, sliceBatch } from '../model/batch';
import type { ModelConfig } from '../model/config';
import { streamedGradients, StreamOptions, StreamResult } from './engine';
import { ranges } from '../ranges';

export interface StreamedFileOptions extends StreamOptions {
  out: string;
  snip?: boolean;
  /** tensor names to write, in file order (the checkpoint's stored parameters) */
  names: string[];
  metadata: (loss: number, count: number) => Record<string, string>;
  /** sequences per streamed pass (default: the whole batch in one pass) */
  sequencesPerPass?: number;
}

export type StreamedFileResult = StreamResult & { tensors: number; writeSeconds: number; passes: number };

function specsOf(ckpt: Checkpoint, o: StreamedFileOptions): TensorSpec[] {
  return o.names.flatMap((n) => {
    const shape = ckpt.info(n).shape;
    const s: TensorSpec[] = [{ name: `grad/${n}`, dtype: 'F32', shape }];
    if (o.snip) s.push({ name: `snip/${n}`, dtype: 'F32', shape });
    return s;
  });
}

const seconds = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e9;

export async function streamGradientsToFile(cfg: ModelConfig, ckpt: Checkpoint, batch: Batch, o: StreamedFileOptions): Promise<StreamedFileResult> {
  const B = batch.input_ids.length;
  const per = Math.max(1, Math.min(B, Math.floor(o.sequencesPerPass ?? B)));
  if (per < B) return groupedToFile(cfg, ckpt, batch, per, o);
  const specs = specsOf(ckpt, o);
  let w: SafetensorsWriter | null = null;
  let writeSeconds = 0;
  try {
    const r = await streamedGradients(cfg, ckpt, batch, (name, start, g) => {
      const t = process.hrtime.bigint();
      w!.writeAt(`grad/${name}`, start, g);
      if (o.snip) {
        const theta = ckpt.readF32(name, start, start + g.length);
        for (let i = 0; i < theta.length; i++) theta[i] = Math.abs(theta[i] * g[i]);
        w!.writeAt(`snip/${name}`, start, theta);
      }
      writeSeconds += seconds(t);
    }, {
      ...o,
      onLoss: async (loss, count) => {
        w = SafetensorsWriter.create(o.out, specs, o.metadata(loss, count));
        await o.onLoss?.(loss, count);
      },
    });
    const t = process.hrtime.bigint();
    (w as SafetensorsWriter | null)?.close();
    writeSeconds += seconds(t);
    return { ...r, tensors: specs.length, writeSeconds, passes: 1 };
  } catch (e) {
    (w as SafetensorsWriter | null)?.abort();
    throw e;
  }
}

/** Header room for what is known only after the last group: the loss and the number of passes. */
const LATE_METADATA_BYTES = 64;

async function groupedToFile(cfg: ModelConfig, ckpt: Checkpoint, batch: Batch, per: number, o: StreamedFileOptions): Promise<StreamedFileResult> {
  const whole = prepareBatch(batch, cfg.vocabSize); // validates every sequence before any work
  if (whole.count <= 0) throw new SilError('INVALID_DATA', 'batch has no position with a label (labels are all −100 after the causal shift)');
  const groups: Batch[] = [];
  for (let lo = 0; lo < batch.input_ids.length; lo += per) {
    const g = sliceBatch(batch, lo, Math.min(batch.input_ids.length, lo + per));
    if (prepareBatch(g, cfg.vocabSize).count > 0) groups.push(g); // a group without labels adds nothing
  }
  const specs = specsOf(ckpt, o);
  const w = SafetensorsWriter.create(o.out, specs, o.metadata(0, whole.count), { reserveHeaderBytes: LATE_METADATA_BYTES });
  let writeSeconds = 0;
  let loss = 0;
  let last: StreamResult | null = null;
  let forwardSeconds = 0;
  let backwardSeconds = 0;
  try {
    for (const g of groups) {
      const r = await streamedGradients(cfg, ckpt, g, (name, start, data) => {
        const t = process.hrtime.bigint();
        w.addAt(`grad/${name}`, start, data);
        writeSeconds += seconds(t);
      }, { ...o, denominator: o.denominator ?? whole.count, onLoss: undefined, onPlan: last ? undefined : o.onPlan });
      loss += r.loss;
      forwardSeconds += r.forwardSeconds;
      backwardSeconds += r.backwardSeconds;
      last = r;
    }
    await o.onLoss?.(loss, whole.count);
    const t = process.hrtime.bigint();
    if (o.snip) {
      for (const n of o.names) {
        for (const [lo, hi] of ranges(ckpt.info(n).shape.reduce((a, b) => a * b, 1), 1 << 22)) {
          const g = w.readAt(`grad/${n}`, lo, hi - lo);
          const theta = ckpt.readF32(n, lo, hi);
          for (let i = 0; i < theta.length; i++) theta[i] = Math.abs(theta[i] * g[i]);
          w.writeAt(`snip/${n}`, lo, theta);
        }
      }
    }
    w.setMetadata({ ...o.metadata(loss, whole.count), passes: String(groups.length) });
    w.close();
    writeSeconds += seconds(t);
    return { loss, count: whole.count, plan: last!.plan, forwardSeconds, backwardSeconds, tensors: specs.length, writeSeconds, passes: groups.length };
  } catch (e) {
    w.abort();
    throw e;
  }
}
