/**
 * A CPU emulation of the GPU that the cuda backend drives: device memory as host buffers, each
 * kernel of src/cuda/kernels.ts re-implemented in TypeScript from its CUDA C, and cuBLAS's
 * column-major GemmEx semantics applied to the arguments the backend computes (so the row-major →
 * column-major mapping is checked, not assumed). Lets the backend, its kernels' host-side index
 * arithmetic and the model run end to end on machines without a GPU.
 */
import { type Arg, cublasCall, CUDA_R_16BF, type GemmRequest, type GpuDevice } from '../../src/cuda/device';
import { BINARY_OPS, type KernelName, MAX_RANK, REDUCE_OPS, UNARY_OPS } from '../../src/cuda/kernels';
import { DevicePool } from '../../src/cuda/pool';

const f = Math.fround;
const bits = new Uint32Array(1);
const asFloat = new Float32Array(bits.buffer);
/** float32 → bfloat16 bits, round to nearest even, NaN kept quiet (the CUDA source's bf16_bits) */
function bf16Bits(x: number): number {
  asFloat[0] = x;
  const u = bits[0];
  return (u & 0x7fffffff) > 0x7f800000 ? ((u >>> 16) | 0x40) & 0xffff : ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}
const inv = <T extends Record<string, number>>(o: T) => Object.fromEntries(Object.entries(o).map(([k, v]) => [v, k])) as Record<number, keyof T>;
const UN = inv(UNARY_OPS);
const BIN = inv(BINARY_OPS);
const RED = inv(REDUCE_OPS);

interface View {
  n: number;
  rank: number;
  shape: number[];
  mod: number[];
  sx: number[];
  sy: number[];
  sz: number[];
}

function readView(b: Buffer): View {
  let o = 16;
  const ints = () =>
    Array.from({ length: MAX_RANK }, () => {
      const v = b.readInt32LE(o);
      o += 4;
      return v;
    });
  const longs = () =>
    Array.from({ length: MAX_RANK }, () => {
      const v = Number(b.readBigInt64LE(o));
      o += 8;
      return v;
    });
  const n = Number(b.readBigInt64LE(0));
  const rank = b.readInt32LE(8);
  const shape = ints();
  const mod = ints();
  return { n, rank, shape, mod, sx: longs(), sy: longs(), sz: longs() };
}

function unop(op: string, x: number, p0: number, p1: number): number {
  switch (op) {
    case 'identity':
      return x;
    case 'neg':
      return -x;
    case 'abs':
      return Math.abs(x);
    case 'exp':
      return f(Math.exp(x));
    case 'log':
      return f(Math.log(x));
    case 'sqrt':
      return f(Math.sqrt(x));
    case 'rsqrt':
      return f(1 / f(Math.sqrt(x)));
    case 'square':
      return f(x * x);
    case 'sigmoid':
      return f(1 / f(1 + f(Math.exp(-x))));
    case 'tanh':
      return f(Math.tanh(x));
    case 'relu':
      return x < 0 ? 0 : x;
    case 'sin':
      return f(Math.sin(x));
    case 'cos':
      return f(Math.cos(x));
    case 'reciprocal':
      return f(1 / x);
    case 'sign':
      return x > 0 ? 1 : x < 0 ? -1 : 0;
    case 'floor':
      return Math.floor(x);
    case 'ceil':
      return Math.ceil(x);
    case 'step':
      return Number.isNaN(x) ? x : x > 0 ? 1 : p0;
    case 'logicalNot':
      return x === 0 ? 1 : 0;
    case 'toBool':
      return x !== 0 ? 1 : 0;
    case 'affine':
      return f(f(x * p0) + p1);
    case 'clip':
      return x < p0 ? p0 : x > p1 ? p1 : x;
    case 'log1p':
      return f(Math.log1p(x));
    case 'isNan':
      return Number.isNaN(x) ? 1 : 0;
    default:
      throw new Error(`emulated ew_unary: op ${op} not emulated`);
  }
}

function binop(op: string, a: number, b: number): number {
  switch (op) {
    case 'add':
      return f(a + b);
    case 'sub':
      return f(a - b);
    case 'mul':
      return f(a * b);
    case 'div':
      return f(a / b);
    case 'maximum':
      return Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b);
    case 'minimum':
      return Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b);
    case 'pow':
      return f(Math.pow(a, b));
    case 'squaredDifference':
      return f(f(a - b) * f(a - b));
    case 'less':
      return a < b ? 1 : 0;
    case 'lessEqual':
      return a <= b ? 1 : 0;
    case 'greater':
      return a > b ? 1 : 0;
    case 'greaterEqual':
      return a >= b ? 1 : 0;
    case 'equal':
      return a === b ? 1 : 0;
    case 'notEqual':
      return a !== b ? 1 : 0;
    case 'logicalAnd':
      return a !== 0 && b !== 0 ? 1 : 0;
    case 'logicalOr':
      return a !== 0 || b !== 0 ? 1 : 0;
    case 'floorDiv':
      return Math.floor(f(a / b));
    case 'divNoNan':
      return b === 0 ? 0 : f(a / b);
    case 'absMul':
      return f(Math.abs(a) * Math.abs(b));
    default:
      throw new Error(`emulated ew_binary: op ${op} not emulated`);
  }
}

export class EmulatedDevice implements GpuDevice {
  readonly name = 'emulated GPU';
  readonly ordinal = 0;
  readonly multiprocessors = 4;
  readonly pool: DevicePool;
  private readonly mem = new Map<number, ArrayBuffer>();
  private next = 1 << 20;
  launches: Record<string, number> = {};

  constructor(readonly capacity = 2 ** 31) {
    this.pool = new DevicePool({
      alloc: (bytes) => {
        const used = [...this.mem.values()].reduce((a, b) => a + b.byteLength, 0);
        if (used + bytes > this.capacity) return null;
        const p = this.next;
        this.next += Math.ceil(bytes / 4096) * 4096 + 4096;
        this.mem.set(p, new ArrayBuffer(bytes));
        return p;
      },
      free: (p) => void this.mem.delete(p),
      info: () => ({ free: this.capacity - [...this.mem.values()].reduce((a, b) => a + b.byteLength, 0), total: this.capacity }),
    });
  }

  private buf(p: number): ArrayBuffer {
    const b = this.mem.get(p);
    if (!b) throw new Error(`emulated device: ${p} is not an allocated block`);
    return b;
  }
  f32(p: number): Float32Array {
    return new Float32Array(this.buf(p), 0, this.buf(p).byteLength >> 2);
  }
  i32(p: number): Int32Array {
    return new Int32Array(this.buf(p), 0, this.buf(p).byteLength >> 2);
  }
  u16(p: number): Uint16Array {
    return new Uint16Array(this.buf(p), 0, this.buf(p).byteLength >> 1);
  }
  /** a kernel's output: float32 at y and/or its bfloat16 bits at yh (either address may be 0), as put() in the CUDA source */
  store(y: number, yh: number): (i: number, v: number) => void {
    const yf = y ? this.f32(y) : null;
    const h = yh ? this.u16(yh) : null;
    return (i, val) => {
      const x = f(val);
      if (yf) yf[i] = x;
      if (h) h[i] = bf16Bits(x);
    };
  }

  alloc(bytes: number): number {
    return this.pool.alloc(bytes);
  }
  release(p: number): void {
    this.pool.release(p);
  }
  upload(dst: number, src: ArrayBufferView): void {
    new Uint8Array(this.buf(dst)).set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength));
  }
  download(dst: ArrayBufferView, src: number): void {
    new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength).set(new Uint8Array(this.buf(src), 0, dst.byteLength));
  }
  copy(dst: number, src: number, bytes: number): void {
    new Uint8Array(this.buf(dst)).set(new Uint8Array(this.buf(src), 0, bytes));
  }
  fill32(dst: number, bits: number, count: number): void {
    new Uint32Array(this.buf(dst), 0, count).fill(bits);
  }
  gridFor(n: number, block = 256): number {
    return Math.max(1, Math.min(Math.ceil(n / block), 64));
  }
  synchronize(): void {
    /* in order already */
  }
  memInfo() {
    return { free: this.capacity - this.pool.inUse, total: this.capacity };
  }
  describe(): string {
    return this.name;
  }

  launch(name: KernelName, _grid: number, _block: number, args: Arg[]): void {
    this.launches[name] = (this.launches[name] ?? 0) + 1;
    const v = (k: number): number => {
      const a = args[k] as Exclude<Arg, Buffer>;
      return 'p' in a ? a.p : 'i' in a ? a.i : 'l' in a ? a.l : a.f;
    };
    const ld = (p: number, i: number, dt: number) => (dt === 0 ? this.f32(p)[i] : this.i32(p)[i]);
    const st = (p: number, i: number, dt: number, x: number) => {
      if (dt === 0) this.f32(p)[i] = x;
      else this.i32(p)[i] = Math.trunc(x);
    };
    switch (name) {
      case 'ew_unary': {
        const op = UN[v(0)] as string;
        for (let i = 0; i < v(5); i++) st(v(3), i, v(4), unop(op, ld(v(1), i, v(2)), f(v(6)), f(v(7))));
        return;
      }
      case 'ew_binary': {
        const op = BIN[v(0)] as string;
        const w = readView(args[7] as Buffer);
        const mode = v(8);
        for (let i = 0; i < w.n; i++) {
          let ia = i,
            ib = i;
          if (mode === 1) ib = 0;
          else if (mode === 2) ia = 0;
          else if (mode === 3) {
            let r = i;
            ia = 0;
            ib = 0;
            for (let d = w.rank - 1; d >= 0; d--) {
              const k = r % w.shape[d];
              r = Math.floor(r / w.shape[d]);
              ia += k * w.sx[d];
              ib += k * w.sy[d];
            }
          }
          st(v(5), i, v(6), binop(op, ld(v(1), ia, v(2)), ld(v(3), ib, v(4))));
        }
        return;
      }
      case 'copy_view': {
        const x = this.i32(v(0)),
          y = this.i32(v(1));
        const w = readView(args[2] as Buffer);
        for (let i = 0; i < w.n; i++) {
          let r = i,
            ix = v(3),
            iy = v(4);
          for (let d = w.rank - 1; d >= 0; d--) {
            const k = r % w.shape[d];
            r = Math.floor(r / w.shape[d]);
            iy += k * w.sy[d];
            ix += (w.mod[d] > 0 ? k % w.mod[d] : k) * w.sx[d];
          }
          y[iy] = x[ix];
        }
        return;
      }
      case 'select3': {
        const c = this.i32(v(0)),
          a = this.i32(v(1)),
          b = this.i32(v(2)),
          y = this.i32(v(3));
        const w = readView(args[4] as Buffer);
        for (let i = 0; i < w.n; i++) {
          let r = i,
            ic = 0,
            ia = 0,
            ib = 0;
          for (let d = w.rank - 1; d >= 0; d--) {
            const k = r % w.shape[d];
            r = Math.floor(r / w.shape[d]);
            ic += k * w.sx[d];
            ia += k * w.sy[d];
            ib += k * w.sz[d];
          }
          y[i] = c[ic] !== 0 ? a[ia] : b[ib];
        }
        return;
      }
      case 'reduce_rows': {
        const op = RED[v(0)] as string;
        const rows = v(5),
          inner = v(6),
          parts = v(7);
        for (let task = 0; task < rows * parts; task++) {
          const r = Math.floor(task / parts),
            part = task % parts,
            per = Math.ceil(inner / parts);
          const j0 = part * per,
            j1 = Math.min(inner, j0 + per);
          let acc = op === 'max' || op === 'argMax' ? -Infinity : op === 'min' || op === 'argMin' ? Infinity : op === 'prod' || op === 'all' ? 1 : 0;
          let best = -1;
          for (let j = j0; j < j1; j++) {
            const x = ld(v(1), r * inner + j, v(2));
            if (op === 'sum') acc += x;
            else if (op === 'max') acc = Number.isNaN(acc) || Number.isNaN(x) ? NaN : Math.max(acc, x);
            else if (op === 'min') acc = Number.isNaN(acc) || Number.isNaN(x) ? NaN : Math.min(acc, x);
            else if (op === 'prod') acc *= x;
            else if (op === 'any') acc = acc !== 0 || x !== 0 ? 1 : 0;
            else if (op === 'all') acc = acc !== 0 && x !== 0 ? 1 : 0;
            else if (best < 0 || (op === 'argMax' ? x > acc : x < acc)) {
              acc = x;
              best = j;
            }
          }
          if (op === 'argMax' || op === 'argMin') st(v(3), task, 1, Math.max(best, 0));
          else st(v(3), task, v(4), f(acc));
        }
        return;
      }
      case 'sum_parts': {
        const rows = v(3),
          inner = v(4),
          parts = v(5);
        const out = new Float64Array(this.buf(v(2)));
        for (let task = 0; task < rows * parts; task++) {
          const r = Math.floor(task / parts),
            part = task % parts,
            per = Math.ceil(inner / parts);
          let acc = 0;
          for (let j = part * per; j < Math.min(inner, part * per + per); j++) acc += ld(v(0), r * inner + j, v(1));
          out[task] = acc;
        }
        return;
      }
      case 'reduce_partials': {
        const p = new Float64Array(this.buf(v(0)));
        const rows = v(3),
          parts = v(4);
        for (let r = 0; r < rows; r++) {
          let s = 0;
          for (let k = 0; k < parts; k++) s += p[r * parts + k];
          st(v(1), r, v(2), f(s));
        }
        return;
      }
      case 'softmax_rows': {
        const x = this.f32(v(0)),
          y = this.f32(v(1));
        const rows = v(2),
          cols = v(3),
          logOut = v(4);
        for (let r = 0; r < rows; r++) {
          let m = -Infinity;
          for (let j = 0; j < cols; j++) m = Math.max(m, x[r * cols + j]);
          let s = 0;
          for (let j = 0; j < cols; j++) s = f(s + f(Math.exp(f(x[r * cols + j] - m))));
          for (let j = 0; j < cols; j++) y[r * cols + j] = logOut ? f(f(x[r * cols + j] - m) - f(Math.log(s))) : f(f(Math.exp(f(x[r * cols + j] - m))) * f(1 / s));
        }
        return;
      }
      case 'gather_rows': {
        const x = this.i32(v(0)),
          idx = this.i32(v(1)),
          y = this.i32(v(2));
        const outer = v(3),
          axis = v(4),
          K = v(5),
          inner = v(6);
        for (let i = 0; i < outer * K * inner; i++) {
          const j = i % inner,
            t = Math.floor(i / inner),
            k = t % K,
            o = Math.floor(t / K);
          const s = idx[k];
          y[i] = s >= 0 && s < axis ? x[(o * axis + s) * inner + j] : 0;
        }
        return;
      }
      case 'segment_sum': {
        const x = this.f32(v(0)),
          seg = this.i32(v(1)),
          y = this.f32(v(2));
        const N = v(3),
          inner = v(4),
          numSeg = v(5);
        for (let i = 0; i < N * inner; i++) {
          const s = seg[Math.floor(i / inner)];
          if (s >= 0 && s < numSeg) y[s * inner + (i % inner)] = f(y[s * inner + (i % inner)] + x[i]);
        }
        return;
      }
      case 'one_hot': {
        const idx = this.i32(v(0)),
          y = this.f32(v(1));
        const n = v(2),
          depth = v(3);
        for (let i = 0; i < n * depth; i++) y[i] = idx[Math.floor(i / depth)] === i % depth ? f(v(4)) : f(v(5));
        return;
      }
      case 'f32_to_bf16': {
        const x = this.f32(v(0)),
          y = new Uint16Array(this.buf(v(1)));
        for (let i = 0; i < v(2); i++) y[i] = bf16Bits(x[i]);
        return;
      }
      case 'halves_to_f32': {
        const x = new Uint16Array(this.buf(v(0))),
          y = this.f32(v(1));
        const u = new Uint32Array(1),
          fl = new Float32Array(u.buffer);
        for (let i = 0; i < v(2); i++) {
          if (v(3) === 0) {
            u[0] = x[i] << 16;
            y[i] = fl[0];
          } else {
            const h = x[i],
              s = (h >> 15) & 1,
              e = (h >> 10) & 0x1f,
              m = h & 0x3ff;
            const val = e === 0 ? m * 2 ** -24 : e === 31 ? (m ? NaN : Infinity) : (m | 0x400) * 2 ** (e - 25);
            y[i] = s ? -val : val;
          }
        }
        return;
      }
      case 'rms_norm': {
        const x = this.f32(v(0)),
          w = this.f32(v(1)),
          put = this.store(v(2), v(7));
        const rinv = v(3) ? this.f32(v(3)) : null;
        const rows = v(4),
          cols = v(5),
          eps = f(v(6));
        for (let r = 0; r < rows; r++) {
          let s = 0;
          for (let j = 0; j < cols; j++) s = f(s + f(x[r * cols + j] * x[r * cols + j]));
          const ri = f(1 / f(Math.sqrt(f(f(s / cols) + eps))));
          for (let j = 0; j < cols; j++) put(r * cols + j, f(w[j] * f(x[r * cols + j] * ri)));
          if (rinv) rinv[r] = ri;
        }
        return;
      }
      case 'rms_norm_grad': {
        const x = this.f32(v(0)),
          w = this.f32(v(1)),
          dy = this.f32(v(2)),
          rinv = this.f32(v(3)),
          dx = this.f32(v(4));
        const rows = v(5),
          cols = v(6);
        for (let r = 0; r < rows; r++) {
          let s = 0;
          for (let j = 0; j < cols; j++) s = f(s + f(f(w[j] * dy[r * cols + j]) * x[r * cols + j]));
          const dot = f(s / cols),
            ri = rinv[r],
            c = f(f(f(ri * ri) * ri) * dot);
          for (let j = 0; j < cols; j++) dx[r * cols + j] = f(f(ri * f(w[j] * dy[r * cols + j])) - f(x[r * cols + j] * c));
        }
        return;
      }
      case 'rms_norm_dw_parts': {
        const dy = this.f32(v(0)),
          x = this.f32(v(1)),
          rinv = this.f32(v(2)),
          part = this.f32(v(3));
        const rows = v(4),
          cols = v(5),
          chunks = v(6),
          per = Math.ceil(rows / chunks);
        for (let k = 0; k < chunks; k++)
          for (let c = 0; c < cols; c++) {
            let acc = 0;
            for (let r = k * per; r < Math.min(rows, k * per + per); r++) acc = f(acc + f(dy[r * cols + c] * f(x[r * cols + c] * rinv[r])));
            part[k * cols + c] = acc;
          }
        return;
      }
      case 'col_sum': {
        const part = this.f32(v(0)),
          y = this.f32(v(1));
        const chunks = v(2),
          cols = v(3);
        for (let c = 0; c < cols; c++) {
          let acc = 0;
          for (let k = 0; k < chunks; k++) acc = f(acc + part[k * cols + c]);
          y[c] = v(4) ? f(y[c] + acc) : acc;
        }
        return;
      }
      case 'rope_split':
      case 'rope_merge': {
        const x = this.f32(v(0)),
          put = this.store(v(3), v(9));
        const [B, T, H, D, rope] = [v(4), v(5), v(6), v(7), v(8)];
        const cs = rope ? this.f32(v(1)) : null,
          sn = rope ? this.f32(v(2)) : null;
        const half = D / 2;
        for (let b = 0; b < B; b++)
          for (let h = 0; h < H; h++)
            for (let t = 0; t < T; t++)
              for (let d = 0; d < D; d++) {
                const split = ((b * H + h) * T + t) * D + d;
                const merged = ((b * T + t) * H + h) * D + d;
                const [src, dst] = name === 'rope_split' ? [merged - d, split] : [split - d, merged];
                let val = x[src + d];
                if (cs && sn) {
                  if (name === 'rope_split') {
                    const rot = d < half ? -x[src + d + half] : x[src + d - half];
                    val = f(f(val * cs[t * D + d]) + f(rot * sn[t * D + d]));
                  } else {
                    const rot = d < half ? f(x[src + d + half] * sn[t * D + d + half]) : -f(x[src + d - half] * sn[t * D + d - half]);
                    val = f(f(val * cs[t * D + d]) + rot);
                  }
                }
                put(dst, val);
              }
        return;
      }
      case 'masked_softmax': {
        const s = this.f32(v(0)),
          mask = this.f32(v(1)),
          put = this.store(v(2), v(8));
        const rows = v(3),
          T = v(4),
          Tk = v(5),
          nh = v(6),
          scale = f(v(7));
        for (let r = 0; r < rows; r++) {
          const b = Math.floor(r / (nh * T)),
            i = r % T;
          const z = (j: number) => f(f(s[r * Tk + j] * scale) + mask[(b * T + i) * Tk + j]);
          let m = -Infinity;
          for (let j = 0; j < Tk; j++) m = Math.max(m, z(j));
          let sum = 0;
          for (let j = 0; j < Tk; j++) sum = f(sum + f(Math.exp(f(z(j) - m))));
          const inv = f(1 / sum);
          for (let j = 0; j < Tk; j++) put(r * Tk + j, f(f(Math.exp(f(z(j) - m))) * inv));
        }
        return;
      }
      case 'masked_softmax_grad': {
        const p = this.f32(v(0)),
          dp = this.f32(v(1)),
          put = this.store(v(2), v(6));
        const rows = v(3),
          Tk = v(4),
          scale = f(v(5));
        for (let r = 0; r < rows; r++) {
          let dot = 0;
          for (let j = 0; j < Tk; j++) dot = f(dot + f(dp[r * Tk + j] * p[r * Tk + j]));
          for (let j = 0; j < Tk; j++) put(r * Tk + j, f(f(p[r * Tk + j] * f(dp[r * Tk + j] - dot)) * scale));
        }
        return;
      }
      case 'embed_rows': {
        const halves = v(0) ? this.u16(v(0)) : null,
          words = v(1) ? this.f32(v(1)) : null,
          ids = this.i32(v(2)),
          out = this.f32(v(3));
        const n = v(4),
          H = v(5);
        const u = new Uint32Array(1);
        const w = new Float32Array(u.buffer);
        for (let i = 0; i < n * H; i++) {
          const src = ids[Math.floor(i / H)] * H + (i % H);
          if (halves) {
            u[0] = halves[src] << 16;
            out[i] = w[0];
          } else out[i] = words![src];
        }
        return;
      }
      case 'segment_rows_sum': {
        const x = this.f32(v(0)),
          order = this.i32(v(1)),
          starts = this.i32(v(2)),
          out = this.f32(v(3));
        const R = v(4),
          H = v(5),
          dest = v(6) ? this.i32(v(6)) : null;
        for (let r = 0; r < R; r++)
          for (let j = 0; j < H; j++) {
            let acc = 0;
            for (let k = starts[r]; k < starts[r + 1]; k++) acc = f(acc + x[order[k] * H + j]);
            if (dest) out[dest[r] * H + j] = f(out[dest[r] * H + j] + acc);
            else out[r * H + j] = acc;
          }
        return;
      }
      case 'add_same': {
        const a = this.f32(v(0)),
          c = this.f32(v(1)),
          put = this.store(v(2), v(4));
        for (let i = 0; i < v(3); i++) put(i, f(a[i] + c[i]));
        return;
      }
      case 'swiglu': {
        const g = this.f32(v(0)),
          u = this.f32(v(1)),
          put = this.store(v(2), v(4));
        for (let i = 0; i < v(3); i++) {
          const sg = f(1 / f(1 + f(Math.exp(-g[i]))));
          put(i, f(f(g[i] * sg) * u[i]));
        }
        return;
      }
      case 'swiglu_grad': {
        const g = this.f32(v(0)),
          u = this.f32(v(1)),
          dy = this.f32(v(2)),
          dg = this.store(v(3), v(6)),
          du = this.store(v(4), v(7));
        for (let i = 0; i < v(5); i++) {
          const x = g[i],
            sg = f(1 / f(1 + f(Math.exp(-x)))),
            d = dy[i];
          du(i, f(d * f(x * sg)));
          dg(i, f(f(f(d * u[i]) * sg) * f(1 + f(x * f(1 - sg)))));
        }
        return;
      }
      case 'lse_chunk': {
        const z = this.f32(v(0)),
          m0 = this.f32(v(1)),
          s0 = this.f32(v(2)),
          zt0 = this.f32(v(3)),
          tg = this.i32(v(4)),
          r0 = v(5),
          m1 = this.f32(v(6)),
          s1 = this.f32(v(7)),
          zt1 = this.f32(v(8));
        const N = v(9),
          C = v(10);
        for (let n = 0; n < N; n++) {
          let m = -Infinity;
          for (let j = 0; j < C; j++) m = Math.max(m, z[n * C + j]);
          const mNew = Math.max(m0[n], m);
          let s = 0;
          for (let j = 0; j < C; j++) s = f(s + f(Math.exp(f(z[n * C + j] - mNew))));
          const t = tg[n] - r0;
          m1[n] = mNew;
          s1[n] = f(f(s0[n] * f(Math.exp(f(m0[n] - mNew)))) + s);
          zt1[n] = f(zt0[n] + (tg[n] >= 0 && t >= 0 && t < C ? z[n * C + t] : 0));
        }
        return;
      }
      case 'ce_chunk_grad': {
        const z = this.f32(v(0)),
          lse = this.f32(v(1)),
          tg = this.i32(v(2)),
          r0 = v(3),
          scale = this.f32(v(4)),
          dz = this.f32(v(5));
        const N = v(6),
          C = v(7);
        for (let i = 0; i < N * C; i++) {
          const n = Math.floor(i / C),
            j = i % C;
          const p = f(Math.exp(f(z[i] - lse[n])));
          dz[i] = f(f(p - (tg[n] >= 0 && tg[n] - r0 === j ? 1 : 0)) * scale[n]);
        }
        return;
      }
      default:
        throw new Error(`emulated device: kernel ${name} not emulated`);
    }
  }

  /** cublasGemmEx / cublasGemmStridedBatchedEx, column-major, float accumulation. */
  gemm(o: GemmRequest): void {
    const c = cublasCall(o);
    const bf = c.dtype === CUDA_R_16BF;
    const rd = (p: number): Float32Array => {
      if (!bf) return this.f32(p);
      const h = new Uint16Array(this.buf(p));
      const out = new Float32Array(h.length);
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < h.length; i++) u[i] = h[i] << 16;
      return out;
    };
    const A = rd(c.A),
      B = rd(c.B),
      C = this.f32(c.C);
    for (let bi = 0; bi < c.batch; bi++) {
      const oa = bi * c.strideA,
        ob = bi * c.strideB,
        oc = bi * c.strideC;
      for (let j = 0; j < c.n; j++) {
        for (let i = 0; i < c.m; i++) {
          let s = 0;
          for (let p = 0; p < c.k; p++) {
            const a = c.transa ? A[oa + p + i * c.lda] : A[oa + i + p * c.lda];
            const b = c.transb ? B[ob + j + p * c.ldb] : B[ob + p + j * c.ldb];
            s = f(s + f(a * b));
          }
          C[oc + i + j * c.ldc] = f(s + (c.beta ? c.beta * C[oc + i + j * c.ldc] : 0));
        }
      }
    }
  }
}
