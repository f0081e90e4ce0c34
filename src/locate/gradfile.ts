/**
 * Gradient sums on disk, read in element ranges: the per-language cache files that `sil locate`
 * writes (`cache/<lang>.grads.safetensors` for `grad`, `cache/<lang>.<fields>.grads.safetensors`
 * for any other field set, see gradCacheName) and files given with `--grads FILE`.
 *
 * Fields, each F32 (any float dtype is accepted on read) and keyed by checkpoint tensor names:
 *   grad/<name>    Σₓ ∇L(x)                     (sil, reduce sum)
 *   absgrad/<name> Σₓ |∇L(x)|                   (snip)
 *   silabs/<name>  (1/n) Σₓ |Δ ⊙ ∇L(x)|         (sil, reduce mean-abs)
 * A `--grads` file may instead key the gradient sums by bare tensor names (field `grad`).
 */
import { SilError } from '../errors';
import type { Checkpoint } from '../io/checkpoint';
import { SafetensorsFile } from '../io/safetensors';

export type GradField = 'grad' | 'absgrad' | 'silabs';
export const GRAD_FIELDS: readonly GradField[] = ['grad', 'absgrad', 'silabs'];

/**
 * File name of a calibration set's cached gradient sums, one file per field set so that scores
 * needing different fields keep their caches side by side: `<set>.grads.safetensors` for `grad`
 * alone (sil, reduce sum), `<set>.<f1+f2…>.grads.safetensors` otherwise (fields in GRAD_FIELDS order),
 * e.g. `en.absgrad.grads.safetensors` (snip), `en.silabs.grads.safetensors` (sil, reduce mean-abs).
 */
export function gradCacheName(set: string, fields: readonly GradField[]): string {
  const tag = GRAD_FIELDS.filter((f) => fields.includes(f)).join('+');
  return tag === 'grad' ? `${set}.grads.safetensors` : `${set}.${tag}.grads.safetensors`;
}

export class GradFile {
  private constructor(
    readonly file: SafetensorsFile,
    private readonly prefixed: boolean,
  ) {}

  static open(path: string): GradFile {
    const f = SafetensorsFile.open(path);
    const prefixed = [...f.tensors.keys()].some((n) => GRAD_FIELDS.some((p) => n.startsWith(`${p}/`)));
    return new GradFile(f, prefixed);
  }

  get path(): string {
    return this.file.path;
  }

  get metadata(): Record<string, string> {
    return this.file.metadata;
  }

  key(field: GradField, name: string): string {
    return this.prefixed ? `${field}/${name}` : field === 'grad' ? name : `${field}/${name}`;
  }

  has(field: GradField, name: string): boolean {
    return this.file.tensors.has(this.key(field, name));
  }

  read(field: GradField, name: string, start: number, end: number): Float32Array {
    return this.file.readF32(this.key(field, name), start, end);
  }

  /**
   * Checks the file against the checkpoint: every tensor in `need` present in each of `fields` with
   * the checkpoint's shape, and no gradient for a tensor the checkpoint lacks (CHECKPOINT_MISMATCH).
   */
  validate(ck: Checkpoint, need: readonly string[], fields: readonly GradField[]): void {
    for (const field of fields) {
      for (const name of need) {
        const key = this.key(field, name);
        const info = this.file.tensors.get(key);
        if (!info) throw new SilError('CHECKPOINT_MISMATCH', `no gradient "${key}" for a tensor of ${ck.location}`, { file: this.path, tensor: name });
        const want = ck.info(name).shape;
        if (info.shape.join(',') !== want.join(',')) {
          throw new SilError('CHECKPOINT_MISMATCH', `gradient has shape [${info.shape.join(', ')}]; the checkpoint's tensor is [${want.join(', ')}]`, { file: this.path, tensor: key });
        }
        if (!['F32', 'F16', 'BF16', 'F64'].includes(info.dtype)) {
          throw new SilError('INVALID_DATA', `gradient must be a float tensor, found ${info.dtype}`, { file: this.path, tensor: key });
        }
      }
    }
    for (const key of this.file.tensors.keys()) {
      const field = GRAD_FIELDS.find((p) => key.startsWith(`${p}/`));
      if (this.prefixed && !field) continue; // other content (e.g. snip/, logits) is ignored
      const name = field ? key.slice(field.length + 1) : key;
      if (!ck.has(name)) throw new SilError('CHECKPOINT_MISMATCH', `gradient for a tensor that ${ck.location} does not have`, { file: this.path, tensor: key });
    }
  }

  close(): void {
    this.file.close();
  }
}
