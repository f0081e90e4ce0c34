/**
 * BF16 delta kernel in WebAssembly SIMD, assembled here byte by byte (no toolchain needed).
 * It computes exactly what `accumulateBf16` (the JS kernel in stats.ts) computes, 8 elements per
 * step: bf16 → f32 by widening each u16 lane to u32 and shifting left by 16, then f32 → f64
 * (`f64x2.promote_low_f32x4`), and in float64 lanes
 *   Δ = b − a,  L1 += |Δ|,  L2 += Δ²,  W2 += a²,  max = pmax(max, |Δ|),  changed += (Δ ≠ 0);
 * |Δ| for `--save-abs-delta` is f32(b) − f32(a) rounded once to f32, as the JS path stores it.
 * The module owns one linear memory: callers read file bytes straight into it (no copy).
 * Like the JS kernel it does no finiteness tests; the caller redoes a chunk whose sums are not finite.
 */

/** The few WebAssembly APIs used here (the project's TypeScript lib has no DOM types). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
declare const WebAssembly: {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => WasmInstance;
};

// ---- a tiny assembler --------------------------------------------------------------------------
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const name = (s: string) => [...uleb(s.length), ...Buffer.from(s, 'utf8')];

const I32 = 0x7f;
const V128 = 0x7b;
const get = (i: number) => [0x20, ...uleb(i)];
const set = (i: number) => [0x21, ...uleb(i)];
const simd = (op: number, ...imm: number[]) => [0xfd, ...uleb(op), ...imm];
const OP = {
  load: 0x00,
  store: 0x0b,
  const: 0x0c,
  shuffle: 0x0d,
  f64x2_ne: 0x48,
  f64x2_promote_low_f32x4: 0x5f,
  i32x4_extend_low_i16x8_u: 0xa9,
  i32x4_extend_high_i16x8_u: 0xaa,
  i32x4_shl: 0xab,
  i64x2_sub: 0xd1,
  f32x4_abs: 0xe0,
  f32x4_sub: 0xe5,
  f64x2_abs: 0xec,
  f64x2_add: 0xf0,
  f64x2_sub: 0xf1,
  f64x2_mul: 0xf2,
  f64x2_pmax: 0xf7,
};
const load = (offset: number) => simd(OP.load, 4, ...uleb(offset));
const store = (offset: number) => simd(OP.store, 4, ...uleb(offset));
const HIGH_TO_LOW = [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7];

/** Result slots (bytes): L1, L2, W2, max as f64x2; changed as i64x2. */
export const RESULT_BYTES = 80;

function buildModule(): Uint8Array {
  // params: 0 pa, 1 pb, 2 pabs, 3 n8; v128 locals:
  const [L1, L2, W2, MX, CH, ZERO, FA0, FA1, FB0, FB1, A, B, D, E] = [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17];
  const widen = (src: number[], high: boolean, dst: number) => [
    ...src,
    ...simd(high ? OP.i32x4_extend_high_i16x8_u : OP.i32x4_extend_low_i16x8_u),
    0x41,
    ...sleb(16),
    ...simd(OP.i32x4_shl),
    ...set(dst),
  ];
  const promote = (f32: number, high: boolean, dst: number) => [...get(f32), ...(high ? [...get(f32), ...simd(OP.shuffle, ...HIGH_TO_LOW)] : []), ...simd(OP.f64x2_promote_low_f32x4), ...set(dst)];
  const accumulate = (fa: number, fb: number, high: boolean) => [
    ...promote(fa, high, A),
    ...promote(fb, high, B),
    ...get(B),
    ...get(A),
    ...simd(OP.f64x2_sub),
    ...set(D),
    ...get(D),
    ...simd(OP.f64x2_abs),
    ...set(E),
    ...get(L1),
    ...get(E),
    ...simd(OP.f64x2_add),
    ...set(L1),
    ...get(L2),
    ...get(D),
    ...get(D),
    ...simd(OP.f64x2_mul),
    ...simd(OP.f64x2_add),
    ...set(L2),
    ...get(W2),
    ...get(A),
    ...get(A),
    ...simd(OP.f64x2_mul),
    ...simd(OP.f64x2_add),
    ...set(W2),
    ...get(MX),
    ...get(E),
    ...simd(OP.f64x2_pmax),
    ...set(MX),
    ...get(CH),
    ...get(D),
    ...get(ZERO),
    ...simd(OP.f64x2_ne),
    ...simd(OP.i64x2_sub),
    ...set(CH),
  ];
  const absOut = (fa: number, fb: number, offset: number) => [...get(2), ...get(fb), ...get(fa), ...simd(OP.f32x4_sub), ...simd(OP.f32x4_abs), ...store(offset)];
  const body = [
    ...simd(OP.const, ...new Array(16).fill(0)),
    ...set(ZERO),
    0x02,
    0x40, // block
    0x03,
    0x40, // loop
    ...get(3),
    0x45,
    0x0d,
    1, // n8 == 0 → break
    ...widen([...get(0), ...load(0)], false, FA0),
    ...widen([...get(0), ...load(0)], true, FA1),
    ...widen([...get(1), ...load(0)], false, FB0),
    ...widen([...get(1), ...load(0)], true, FB1),
    ...get(2),
    0x04,
    0x40, // if pabs
    ...absOut(FA0, FB0, 0),
    ...absOut(FA1, FB1, 16),
    ...get(2),
    0x41,
    ...sleb(32),
    0x6a,
    ...set(2),
    0x0b,
    ...accumulate(FA0, FB0, false),
    ...accumulate(FA0, FB0, true),
    ...accumulate(FA1, FB1, false),
    ...accumulate(FA1, FB1, true),
    ...get(0),
    0x41,
    ...sleb(16),
    0x6a,
    ...set(0),
    ...get(1),
    0x41,
    ...sleb(16),
    0x6a,
    ...set(1),
    ...get(3),
    0x41,
    ...sleb(1),
    0x6b,
    ...set(3),
    0x0c,
    0, // br loop
    0x0b,
    0x0b, // end loop, end block
    ...[L1, L2, W2, MX, CH].flatMap((l, i) => [0x41, 0, ...get(l), ...store(16 * i)]),
    0x0b,
  ];
  const locals = vec([[...uleb(14), V128]]);
  const fn = [...locals, ...body];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec([[0x60, ...vec([[I32], [I32], [I32], [I32]]), 0]])),
    ...section(3, vec([[0]])),
    ...section(5, vec([[0x00, 1]])),
    ...section(
      7,
      vec([
        [...name('mem'), 0x02, 0],
        [...name('bf16'), 0x00, 0],
      ]),
    ),
    ...section(10, vec([[...uleb(fn.length), ...fn]])),
  ]);
}

// ---- the kernel ---------------------------------------------------------------------------------
export interface SimdSums {
  l1: number;
  l2sq: number;
  w2sq: number;
  maxAbs: number;
  changed: number;
}

/** One instance (one linear memory) per thread. */
export class Bf16SimdKernel {
  private readonly mem: WasmMemory;
  private readonly fn: (pa: number, pb: number, pabs: number, n8: number) => void;

  private constructor(instance: WasmInstance) {
    this.mem = instance.exports.mem as WasmMemory;
    this.fn = instance.exports.bf16 as (pa: number, pb: number, pabs: number, n8: number) => void;
  }

  /** null when this runtime has no WebAssembly SIMD. */
  static create(): Bf16SimdKernel | null {
    try {
      const bytes = buildModule();
      if (!WebAssembly.validate(bytes)) return null;
      return new Bf16SimdKernel(new WebAssembly.Instance(new WebAssembly.Module(bytes)));
    } catch {
      return null;
    }
  }

  /**
   * Views of kernel memory for n elements per side: `a`, `b` (2n bytes each, 16-byte aligned)
   * and `abs` (n floats). Valid until the next call to `buffers`.
   */
  buffers(n: number): { a: Uint8Array; b: Uint8Array; abs: Float32Array } {
    const side = Math.ceil((2 * n) / 16) * 16;
    const need = RESULT_BYTES + 48 + 2 * side + 4 * n;
    const have = this.mem.buffer.byteLength;
    if (need > have) this.mem.grow(Math.ceil((need - have) / 65536));
    const buf = this.mem.buffer;
    const offA = 128;
    return { a: new Uint8Array(buf, offA, 2 * n), b: new Uint8Array(buf, offA + side, 2 * n), abs: new Float32Array(buf, offA + 2 * side, n) };
  }

  /**
   * Sums over the first ⌊n/8⌋·8 elements of the views from `buffers(n)`, writing |Δ| into `abs`
   * when `withAbs`. Returns the number of elements done; the caller handles the rest.
   */
  run(a: Uint8Array, b: Uint8Array, abs: Float32Array | null, n: number): { done: number; sums: SimdSums } {
    const n8 = Math.floor(n / 8);
    this.fn(a.byteOffset, b.byteOffset, abs ? abs.byteOffset : 0, n8);
    const f = new Float64Array(this.mem.buffer, 0, 8);
    const c = new BigInt64Array(this.mem.buffer, 64, 2);
    return {
      done: n8 * 8,
      sums: { l1: f[0] + f[1], l2sq: f[2] + f[3], w2sq: f[4] + f[5], maxAbs: Math.max(f[6], f[7]), changed: Number(c[0] + c[1]) },
    };
  }
}
