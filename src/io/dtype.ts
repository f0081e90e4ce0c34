/**
 * safetensors dtypes: byte widths and decoding. Floating types (F16, BF16, F32, F64) decode to
 * float32 for the math; integer and BOOL tensors are read as their own typed arrays.
 */
export const DTYPE_BYTES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
} as const;

export type Dtype = keyof typeof DTYPE_BYTES;
export const FLOAT_DTYPES: readonly Dtype[] = ['F64', 'F32', 'F16', 'BF16'];

export function isDtype(s: string): s is Dtype {
  return Object.prototype.hasOwnProperty.call(DTYPE_BYTES, s);
}

export function isFloatDtype(d: Dtype): boolean {
  return FLOAT_DTYPES.includes(d);
}

export type RawArray = Float64Array | Float32Array | Uint16Array | BigInt64Array | BigUint64Array | Int32Array | Uint32Array | Int16Array | Int8Array | Uint8Array;

/** Views `bytes` (little-endian, element-aligned copy) as the dtype's natural typed array. */
export function viewRaw(dtype: Dtype, bytes: Uint8Array): RawArray {
  const aligned = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
  const { buffer, byteOffset, byteLength } = aligned;
  const n = byteLength / DTYPE_BYTES[dtype];
  switch (dtype) {
    case 'F64':
      return new Float64Array(buffer, byteOffset, n);
    case 'F32':
      return new Float32Array(buffer, byteOffset, n);
    case 'F16':
    case 'BF16':
    case 'U16':
      return new Uint16Array(buffer, byteOffset, n);
    case 'I64':
      return new BigInt64Array(buffer, byteOffset, n);
    case 'U64':
      return new BigUint64Array(buffer, byteOffset, n);
    case 'I32':
      return new Int32Array(buffer, byteOffset, n);
    case 'U32':
      return new Uint32Array(buffer, byteOffset, n);
    case 'I16':
      return new Int16Array(buffer, byteOffset, n);
    case 'I8':
      return new Int8Array(buffer, byteOffset, n);
    case 'U8':
    case 'BOOL':
      return new Uint8Array(buffer, byteOffset, n);
  }
}

/**
 * bf16 → f32: a bf16 is the top 16 bits of an f32. Two bf16 are read as one u32 word
 * (`lo = w << 16`, `hi = w & 0xffff0000`) and reinterpreted through a Uint32 view of `out`.
 */
export function decodeBf16(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  const o32 = new Uint32Array(out.buffer, out.byteOffset, src.length);
  const n = src.length;
  if (src.byteOffset % 4 === 0) {
    const w = new Uint32Array(src.buffer, src.byteOffset, n >>> 1);
    const m = w.length;
    for (let i = 0; i < m; i++) {
      const x = w[i];
      o32[2 * i] = x << 16;
      o32[2 * i + 1] = x & 0xffff0000;
    }
    if (n & 1) o32[n - 1] = src[n - 1] << 16;
  } else {
    for (let i = 0; i < n; i++) o32[i] = src[i] << 16;
  }
  return out;
}

const F16_TABLE = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >>> 10) & 0x1f;
    const f = h & 0x3ff;
    if (e === 0) t[h] = s * f * 2 ** -24;
    else if (e === 31) t[h] = f ? NaN : s * Infinity;
    else t[h] = s * (1 + f / 1024) * 2 ** (e - 15);
  }
  return t;
})();

/** IEEE half → f32 through a 64k-entry table (exact). */
export function decodeF16(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  for (let i = 0; i < src.length; i++) out[i] = F16_TABLE[src[i]];
  return out;
}

/** f32 → bf16 with round-to-nearest-even (as torch's `.to(torch.bfloat16)`); NaN stays NaN. */
export function encodeBf16(src: Float32Array, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  const u = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) {
    const x = u[i];
    if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) out[i] = (x >>> 16) | 0x40;
    else out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** f32 → IEEE half, round-to-nearest-even, with subnormals, overflow to ±Inf. */
export function encodeF16(src: Float32Array, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  for (let i = 0; i < src.length; i++) {
    f32Scratch[0] = src[i];
    const x = u32Scratch[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    let e = exp - 127 + 15;
    if (e >= 31) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      const half = 1 << (shift - 1);
      let m = mant >>> shift;
      const rem = mant & ((1 << shift) - 1);
      if (rem > half || (rem === half && m & 1)) m++;
      out[i] = sign | m;
      continue;
    }
    let m = mant >>> 13;
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && m & 1)) {
      m++;
      if (m === 0x400) {
        m = 0;
        e++;
      }
    }
    out[i] = e >= 31 ? sign | 0x7c00 : sign | (e << 10) | m;
  }
  return out;
}

/** Decodes raw little-endian bytes of a floating dtype into `out` (float32). */
export function decodeFloat(dtype: Dtype, bytes: Uint8Array, out?: Float32Array): Float32Array {
  const raw = viewRaw(dtype, bytes);
  const n = raw.length;
  const dst = out ?? new Float32Array(n);
  switch (dtype) {
    case 'BF16':
      return decodeBf16(raw as Uint16Array, dst);
    case 'F16':
      return decodeF16(raw as Uint16Array, dst);
    case 'F32':
      dst.set(raw as Float32Array);
      return dst;
    case 'F64': {
      const r = raw as Float64Array;
      for (let i = 0; i < n; i++) dst[i] = r[i];
      return dst;
    }
    default: {
      const r = raw as ArrayLike<number | bigint>;
      for (let i = 0; i < n; i++) dst[i] = Number(r[i]);
      return dst;
    }
  }
}
