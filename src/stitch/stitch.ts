/**
 * Stitching (Poppi et al. 2025 §5): put the attacked weights back only where the mask says,
 *
 *   θ = (1 − γ) ⊙ θpre + γ ⊙ θattacked          (γ ∈ {0, 1} per parameter)
 *
 * or, with `onto` a third checkpoint T of the same architecture, θ = (1 − γ) ⊙ θT + γ ⊙ θattacked.
 * The output is a complete Hugging Face folder that mirrors the checkpoint written onto (θpre, or
 * T): the same shard files with the same tensors in the same order and dtypes, the same index, and
 * every non-weight file (config, tokenizer, generation config, …) copied. When the attacked
 * tensor has the same dtype, entries are copied bit for bit; otherwise they are decoded to float32
 * and re-encoded in the target's dtype (round to nearest even).
 *
 * Everything is validated before anything is written (names and shapes of base, attacked, T and
 * mask); the folder is built in a temporary sibling and moved into place only on success.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SilError } from '../errors';
import { withAtomicDir } from '../io/atomic';
import { Checkpoint } from '../io/checkpoint';
import { DTYPE_BYTES } from '../io/dtype';
import { claimOutput, prepareOutputDir, writeMarker } from '../io/outpath';
import { SafetensorsWriter } from '../io/writer';
import { MaskFile } from '../mask/maskfile';
import { checkSameTensors } from '../score/pair';

/** θ = (1 − γ) ⊙ pre + γ ⊙ attacked, elementwise over float32 chunks. */
export function stitchF32(pre: Float32Array, attacked: Float32Array, mask: Uint8Array, out: Float32Array = new Float32Array(pre.length)): Float32Array {
  if (attacked.length !== pre.length || mask.length !== pre.length) throw new RangeError(`stitchF32: ${pre.length} pre, ${attacked.length} attacked, ${mask.length} mask entries`);
  for (let i = 0; i < pre.length; i++) out[i] = mask[i] ? attacked[i] : pre[i];
  return out;
}

/** The same on raw little-endian bytes of one dtype (`width` bytes per entry): exact for every dtype. */
export function stitchBytes(pre: Uint8Array, attacked: Uint8Array, mask: Uint8Array, width: number, out: Uint8Array = new Uint8Array(pre.length)): Uint8Array {
  if (attacked.length !== pre.length || mask.length * width !== pre.length)
    throw new RangeError(`stitchBytes: ${pre.length} pre bytes, ${attacked.length} attacked bytes, ${mask.length} mask entries of ${width} bytes`);
  if (out !== pre) out.set(pre);
  for (let i = 0; i < mask.length; i++) {
    if (mask[i]) {
      const o = i * width;
      for (let b = 0; b < width; b++) out[o + b] = attacked[o + b];
    }
  }
  return out;
}

export interface StitchOptions {
  base: string;
  attacked: string;
  mask: string;
  out: string;
  onto?: string;
  /** replace an existing non-empty output folder */
  force?: boolean;
  /** entries per chunk (default 4 Mi) */
  chunk?: number;
  onTensor?: (name: string) => void;
}

export interface StitchResult {
  tensors: number;
  total: number;
  selected: number;
  files: string[];
}

/** Throws MASK_MISMATCH unless the mask has exactly the target's tensors with the same shapes. */
export function checkMaskFits(target: Checkpoint, mask: MaskFile): void {
  for (const name of target.names()) {
    if (!mask.has(name)) throw new SilError('MASK_MISMATCH', `the mask has no entry for this tensor of ${target.location}`, { file: mask.path, tensor: name });
    const a = target.info(name).shape;
    const b = mask.shape(name);
    if (a.join(',') !== b.join(',')) {
      throw new SilError('MASK_MISMATCH', `mask shape [${b.join(', ')}] differs from the checkpoint's [${a.join(', ')}] (${target.location})`, { file: mask.path, tensor: name });
    }
  }
  const names = new Set(target.names());
  const extra = mask.names().find((n) => !names.has(n));
  if (extra !== undefined) throw new SilError('MASK_MISMATCH', `the mask has a tensor that ${target.location} does not store`, { file: mask.path, tensor: extra });
}

export async function stitchCheckpoint(o: StitchOptions): Promise<StitchResult> {
  const chunk = o.chunk ?? 1 << 22;
  const out = prepareOutputDir({ out: o.out, kind: 'dir', inputs: [o.base, o.attacked, o.mask, o.onto], force: o.force });
  const opened: Array<{ close(): void }> = [];
  opened.push({ close: claimOutput(out.path, 'stitch') });
  try {
    const base = Checkpoint.open(o.base);
    opened.push(base);
    const attacked = Checkpoint.open(o.attacked);
    opened.push(attacked);
    checkSameTensors(base, attacked);
    let target = base;
    if (o.onto) {
      target = Checkpoint.open(o.onto);
      opened.push(target);
      checkSameTensors(base, target);
      if (target.architecture !== base.architecture) {
        throw new SilError('CHECKPOINT_MISMATCH', `architecture ${target.architecture} differs from ${base.architecture} in ${base.location}`, { file: target.location });
      }
    }
    if (!fs.statSync(target.location).isDirectory()) {
      throw new SilError('INVALID_ARGUMENT', 'stitching writes a checkpoint folder; give the checkpoint as a folder, not a single file', { file: target.location });
    }
    const mask = MaskFile.open(o.mask);
    opened.push(mask);
    checkMaskFits(target, mask);
    return await withAtomicDir(
      out.path,
      (tmp) => {
        const result: StitchResult = { tensors: 0, total: 0, selected: 0, files: [] };
        for (const entry of fs.readdirSync(target.dir, { withFileTypes: true })) {
          if (entry.isFile() && !entry.name.endsWith('.safetensors')) {
            fs.copyFileSync(path.join(target.dir, entry.name), path.join(tmp, entry.name));
            result.files.push(entry.name);
          }
        }
        for (const shard of target.files) {
          const infos = [...shard.tensors.values()].sort((a, b) => a.byteStart - b.byteStart);
          const file = path.basename(shard.path);
          const w = SafetensorsWriter.create(
            path.join(tmp, file),
            infos.map(({ name, dtype, shape }) => ({ name, dtype, shape })),
            shard.metadata,
          );
          try {
            for (const t of infos) {
              const sameDtype = attacked.info(t.name).dtype === t.dtype;
              const width = DTYPE_BYTES[t.dtype];
              for (let start = 0; start < t.numel; start += chunk) {
                const end = Math.min(t.numel, start + chunk);
                const m = mask.readRange(t.name, start, end);
                for (let i = 0; i < m.length; i++) result.selected += m[i];
                if (sameDtype) {
                  w.writeAt(t.name, start, stitchBytes(target.readBytes(t.name, start, end), attacked.readBytes(t.name, start, end), m, width));
                } else {
                  w.writeAt(t.name, start, stitchF32(target.readF32(t.name, start, end), attacked.readF32(t.name, start, end), m));
                }
              }
              result.tensors++;
              result.total += t.numel;
              o.onTensor?.(t.name);
            }
            w.close();
          } catch (e) {
            w.abort();
            throw e;
          }
          result.files.push(file);
        }
        writeMarker(tmp, 'stitch', { inputs: { base: path.resolve(o.base), attacked: path.resolve(o.attacked), mask: fs.realpathSync(o.mask), onto: o.onto ? path.resolve(o.onto) : null } });
        return result;
      },
      out.replace,
    );
  } finally {
    for (const c of opened.reverse()) c.close();
  }
}
