/**
 * Masks γ: one 0/1 value per parameter, kept per tensor with the checkpoint's own tensor names and
 * shapes, in the checkpoint's tensor order. Stored as U8 (one byte per entry, 0 or 1) or bitpacked
 * (8 entries per byte, entry i in bit i mod 8 of byte ⌊i/8⌋ — numpy's `bitorder="little"`).
 */
import { SilError } from '../errors';
import { countOnes as countWords, firstNonBinary } from './words';

export interface MaskTensor {
  name: string;
  shape: number[];
  /** 0/1, row-major, length = product(shape) */
  data: Uint8Array;
}

export interface Mask {
  tensors: MaskTensor[];
}

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Number of selected entries: Σ γ. */
export function countOnes(data: Uint8Array): number {
  return countWords(data);
}

export function maskSize(m: Mask): { selected: number; total: number } {
  let selected = 0;
  let total = 0;
  for (const t of m.tensors) {
    selected += countOnes(t.data);
    total += t.data.length;
  }
  return { selected, total };
}

/** Throws MASK_MISMATCH unless every value is 0 or 1. */
export function checkBinary(t: MaskTensor, file?: string): void {
  const i = firstNonBinary(t.data);
  if (i >= 0) throw new SilError('MASK_MISMATCH', `entry ${i} is ${t.data[i]}; a U8 mask holds only 0 and 1`, { file, tensor: t.name });
}

/** Throws MASK_MISMATCH unless `b` has the same tensor names, order and shapes as `a`. */
export function checkSameLayout(a: Mask, b: Mask, where: { a?: string; b?: string } = {}): void {
  const bn = new Map(b.tensors.map((t) => [t.name, t]));
  for (const t of a.tensors) {
    const u = bn.get(t.name);
    if (!u) throw new SilError('MASK_MISMATCH', `tensor is in ${where.a ?? 'the first mask'} but not in this one`, { file: where.b, tensor: t.name });
    if (u.shape.join(',') !== t.shape.join(',')) {
      throw new SilError('MASK_MISMATCH', `shape [${u.shape.join(', ')}] differs from [${t.shape.join(', ')}] in ${where.a ?? 'the first mask'}`, { file: where.b, tensor: t.name });
    }
  }
  if (b.tensors.length !== a.tensors.length) {
    const an = new Set(a.tensors.map((t) => t.name));
    const extra = b.tensors.find((t) => !an.has(t.name))!;
    throw new SilError('MASK_MISMATCH', `tensor is not in ${where.a ?? 'the first mask'}`, { file: where.b, tensor: extra.name });
  }
}
