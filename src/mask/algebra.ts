/**
 * Set algebra on 0/1 masks, elementwise over one tensor (or chunk) at a time:
 * a ∩ b = a ∧ b, a ∪ b = a ∨ b, ¬a = 1 − a, a \ b = a ∧ ¬b, a △ b = a ⊕ b.
 */
import { combineInto } from './words';

function same(a: Uint8Array, b: Uint8Array, op: string): void {
  if (a.length !== b.length) throw new RangeError(`${op}: masks of ${a.length} and ${b.length} entries`);
}

export function and(a: Uint8Array, b: Uint8Array, out: Uint8Array = new Uint8Array(a.length)): Uint8Array {
  same(a, b, 'and');
  for (let i = 0; i < a.length; i++) out[i] = a[i] & b[i];
  return out;
}

export function or(a: Uint8Array, b: Uint8Array, out: Uint8Array = new Uint8Array(a.length)): Uint8Array {
  same(a, b, 'or');
  for (let i = 0; i < a.length; i++) out[i] = a[i] | b[i];
  return out;
}

export function not(a: Uint8Array, out: Uint8Array = new Uint8Array(a.length)): Uint8Array {
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ 1;
  return out;
}

export function difference(a: Uint8Array, b: Uint8Array, out: Uint8Array = new Uint8Array(a.length)): Uint8Array {
  same(a, b, 'difference');
  for (let i = 0; i < a.length; i++) out[i] = a[i] & (b[i] ^ 1);
  return out;
}

export function xor(a: Uint8Array, b: Uint8Array, out: Uint8Array = new Uint8Array(a.length)): Uint8Array {
  same(a, b, 'xor');
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i];
  return out;
}

/** ⋂ of several masks (the language-agnostic set when they are per-language masks). */
export function intersectAll(ms: readonly Uint8Array[]): Uint8Array {
  if (ms.length === 0) throw new RangeError('intersectAll: no masks');
  const out = ms[0].slice();
  for (let j = 1; j < ms.length; j++) {
    same(out, ms[j], 'and');
    combineInto(out, ms[j], 'and');
  }
  return out;
}

/** ⋃ of several masks. */
export function unionAll(ms: readonly Uint8Array[]): Uint8Array {
  if (ms.length === 0) throw new RangeError('unionAll: no masks');
  const out = ms[0].slice();
  for (let j = 1; j < ms.length; j++) {
    same(out, ms[j], 'or');
    combineInto(out, ms[j], 'or');
  }
  return out;
}
