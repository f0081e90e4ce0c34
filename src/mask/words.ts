/**
 * Word-at-a-time loops over 0/1 byte masks: four entries per 32-bit word where the array's offset
 * allows a Uint32 view (byte-at-a-time for the rest). With entries 0 or 1, the entries of a word
 * sum to its top byte after `Math.imul(w, 0x01010101)` (at most 4: no carries out of a byte), and a
 * word holds a value other than 0/1 exactly when `w & 0xfefefefe` is non-zero.
 */

/** The whole words of `a` (null when its offset is not 4-aligned) and where the tail begins. */
function words(a: Uint8Array): { w: Uint32Array | null; tail: number } {
  if (a.byteOffset % 4 !== 0) return { w: null, tail: 0 };
  const n = a.length >>> 2;
  return { w: new Uint32Array(a.buffer, a.byteOffset, n), tail: n << 2 };
}

/** Σ entries of a 0/1 mask. */
export function countOnes(a: Uint8Array): number {
  const { w, tail } = words(a);
  let c = 0;
  if (w) for (let i = 0; i < w.length; i++) c += Math.imul(w[i], 0x01010101) >>> 24;
  for (let i = tail; i < a.length; i++) c += a[i];
  return c;
}

/** Σ (a ∧ b) of two 0/1 masks of one length. */
export function countAnd(a: Uint8Array, b: Uint8Array): number {
  const wa = words(a);
  const wb = words(b);
  let c = 0;
  let from = 0;
  if (wa.w && wb.w) {
    const x = wa.w;
    const y = wb.w;
    for (let i = 0; i < x.length; i++) c += Math.imul(x[i] & y[i], 0x01010101) >>> 24;
    from = wa.tail;
  }
  for (let i = from; i < a.length; i++) c += a[i] & b[i];
  return c;
}

/** out ← out ∧ b (op 'and') or out ∨ b (op 'or'), in place. */
export function combineInto(out: Uint8Array, b: Uint8Array, op: 'and' | 'or'): Uint8Array {
  const wo = words(out);
  const wb = words(b);
  let from = 0;
  if (wo.w && wb.w) {
    const x = wo.w;
    const y = wb.w;
    if (op === 'and') for (let i = 0; i < x.length; i++) x[i] &= y[i];
    else for (let i = 0; i < x.length; i++) x[i] |= y[i];
    from = wo.tail;
  }
  if (op === 'and') for (let i = from; i < out.length; i++) out[i] &= b[i];
  else for (let i = from; i < out.length; i++) out[i] |= b[i];
  return out;
}

/** Index of the first entry that is neither 0 nor 1, or −1. */
export function firstNonBinary(a: Uint8Array): number {
  const { w, tail } = words(a);
  let from = tail;
  if (w) {
    for (let i = 0; i < w.length; i++) {
      if (w[i] & 0xfefefefe) {
        from = i << 2;
        break;
      }
    }
  } else from = 0;
  for (let i = from; i < a.length; i++) if (a[i] > 1) return i;
  return -1;
}

/** 8 unpacked entries (two little-endian words) for every byte value: bit j → entry j. */
const UNPACK = (() => {
  const t = new Uint32Array(512);
  for (let v = 0; v < 256; v++) {
    for (let j = 0; j < 8; j++) if ((v >>> j) & 1) t[2 * v + (j >> 2)] |= 1 << (8 * (j & 3));
  }
  return t;
})();

/**
 * Entries [start, start + n) of a bitpacked mask whose packed bytes from byte ⌊start/8⌋ on are
 * `bytes` (entry i in bit i mod 8 of byte ⌊i/8⌋), unpacked to one byte per entry.
 */
export function unpackRange(bytes: Uint8Array, start: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  const b0 = start >>> 3;
  let i = 0;
  if ((start & 7) === 0) {
    const w = new Uint32Array(out.buffer, 0, (n >>> 3) * 2);
    for (let k = 0; k < n >>> 3; k++) {
      const v = bytes[k];
      w[2 * k] = UNPACK[2 * v];
      w[2 * k + 1] = UNPACK[2 * v + 1];
    }
    i = (n >>> 3) << 3;
  }
  for (; i < n; i++) {
    const e = start + i;
    out[i] = (bytes[(e >>> 3) - b0] >>> (e & 7)) & 1;
  }
  return out;
}
