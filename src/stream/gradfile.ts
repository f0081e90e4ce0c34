/**
 * `sil grad` on the layer-streamed pass: gradients go to the output file tensor by tensor (and
 * chunk by chunk for the embedding and head) as they are computed, so neither the model nor its
 * gradients are ever held whole. The header (with the loss in `__metadata__`) is written once the
 * forward pass has given the loss, before the first gradient arrives.
 *
 * With `sequencesPerGroup` below the batch size, each layer takes the batch that many sequences at
 * a time (engine.ts: one pass, every layer read once, the groups' gradients summed before they
 * reach the file), so the file is written once, with the whole batch's gradient.
 */
import type { Checkpoint } from '../io/checkpoint';
import { SafetensorsWriter, type TensorSpec } from '../io/writer';
import type { Batch } from '../model/batch';
import type { ModelConfig } from '../model/config';
import { streamedGradients, type StreamOptions, type StreamResult } from './engine';

export interface StreamedFileOptions extends StreamOptions {
  out: string;
  snip?: boolean;
  /** tensor names to write, in file order (the checkpoint's stored parameters) */
  names: string[];
  metadata: (loss: number, count: number) => Record<string, string>;
}

export type StreamedFileResult = StreamResult & { tensors: number; writeSeconds: number };

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
  const specs = specsOf(ckpt, o);
  let w: SafetensorsWriter | null = null;
  let writeSeconds = 0;
  try {
    const r = await streamedGradients(
      cfg,
      ckpt,
      batch,
      (name, start, g) => {
        const t = process.hrtime.bigint();
        w!.writeAt(`grad/${name}`, start, g);
        if (o.snip) {
          const theta = ckpt.readF32(name, start, start + g.length);
          for (let i = 0; i < theta.length; i++) theta[i] = Math.abs(theta[i] * g[i]);
          w!.writeAt(`snip/${name}`, start, theta);
        }
        writeSeconds += seconds(t);
      },
      {
        ...o,
        onLoss: async (loss, count) => {
          w = SafetensorsWriter.create(o.out, specs, o.metadata(loss, count));
          await o.onLoss?.(loss, count);
        },
      },
    );
    const t = process.hrtime.bigint();
    (w as SafetensorsWriter | null)?.close();
    writeSeconds += seconds(t);
    return { ...r, tensors: specs.length, writeSeconds };
  } catch (e) {
    (w as SafetensorsWriter | null)?.abort();
    throw e;
  }
}
