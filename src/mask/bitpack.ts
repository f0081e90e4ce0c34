/**
 * Bitpacking: U8 0/1 ↔ 8 entries per byte, entry i in bit (i mod 8) of byte ⌊i/8⌋ (numpy
 * `np.packbits(m, bitorder="little")`); the last byte's unused high bits are 0. Unpacking needs
 * the entry count n (stored as the tensor's `shape` in the file's metadata). Files that declare
 * `bitorder: "big"` (numpy's default: entry i in bit 7 − (i mod 8)) are read by reversing each
 * byte's bits first (`toLittleBitorder`); `sil` writes little only.
 */

export const BITORDERS = ['little', 'big'] as const;
export type Bitorder = (typeof BITORDERS)[number];

const REVERSED = Uint8Array.from({ length: 256 }, (_, v) => {
  let r = 0;
  for (let b = 0; b < 8; b++) r |= ((v >>> b) & 1) << (7 - b);
  return r;
});

/** Bytes packed in `bitorder` as little-endian bit order (a copy for big, `packed` itself for little). */
export function toLittleBitorder(packed: Uint8Array, bitorder: Bitorder): Uint8Array {
  if (bitorder === 'little') return packed;
  const out = new Uint8Array(packed.length);
  for (let i = 0; i < packed.length; i++) out[i] = REVERSED[packed[i]];
  return out;
}

export function packedLength(n: number): number {
  return Math.ceil(n / 8);
}

export function packBits(mask: Uint8Array, out: Uint8Array = new Uint8Array(packedLength(mask.length))): Uint8Array {
  const n = mask.length;
  const full = n >>> 3;
  for (let b = 0; b < full; b++) {
    const i = b << 3;
    out[b] =
      (mask[i] & 1) |
      ((mask[i + 1] & 1) << 1) |
      ((mask[i + 2] & 1) << 2) |
      ((mask[i + 3] & 1) << 3) |
      ((mask[i + 4] & 1) << 4) |
      ((mask[i + 5] & 1) << 5) |
      ((mask[i + 6] & 1) << 6) |
      ((mask[i + 7] & 1) << 7);
  }
  if (n & 7) {
    let v = 0;
    for (let i = full << 3; i < n; i++) v |= (mask[i] & 1) << (i & 7);
    out[full] = v;
  }
  return out;
}

export function unpackBits(packed: Uint8Array, n: number, out: Uint8Array = new Uint8Array(n)): Uint8Array {
  if (packed.length < packedLength(n)) throw new RangeError(`unpackBits: ${packed.length} bytes cannot hold ${n} entries`);
  for (let i = 0; i < n; i++) out[i] = (packed[i >>> 3] >>> (i & 7)) & 1;
  return out;
}

/** Σ γ of a packed mask, by popcount per byte. */
export function countPacked(packed: Uint8Array, n: number): number {
  let c = 0;
  const full = n >>> 3;
  for (let b = 0; b < full; b++) {
    let v = packed[b];
    v = v - ((v >>> 1) & 0x55);
    v = (v & 0x33) + ((v >>> 2) & 0x33);
    c += (v + (v >>> 4)) & 0x0f;
  }
  for (let i = full << 3; i < n; i++) c += (packed[i >>> 3] >>> (i & 7)) & 1;
  return c;
}
