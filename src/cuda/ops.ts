/**
 * TF.js kernels of the `cuda` backend (tf.registerKernel), on the generic device kernels of
 * kernels.ts and cuBLAS. Any kernel TF.js has for its cpu backend but not listed here runs there:
 * inputs are copied to the host, the cpu kernel runs, outputs are copied back (counted per kernel
 * name in `CudaBackend.fallbacks`; SIL_CUDA_LOG=1 names each the first time).
 */
import * as tf from '@tensorflow/tfjs';
import { type CudaBackend } from './backend';
import { f32, i32, i64, ptr } from './device';
import { registerFusedKernels } from './fused';
import { reg, registerFallbacks } from './registry';
import { BINARY_OPS, type BinaryOp, broadcastStrides, DT_FLOAT, DT_INT, MAX_RANK, packView, REDUCE_OPS, type ReduceOp, simplifyView, stridesOf, UNARY_OPS, type UnaryOp } from './kernels';

export { resetKernelProfile } from './registry';

type Info = tf.TensorInfo;

const BLOCK = 256;

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const dt = (d: tf.DataType) => (d === 'float32' ? DT_FLOAT : DT_INT);

// ---- element-wise -------------------------------------------------------------------------------

function unary(b: CudaBackend, x: Info, op: UnaryOp, outDtype: tf.DataType = x.dtype, p0 = 0, p1 = 0): Info {
  const out = b.makeOutput(x.shape.slice(), outDtype);
  const n = numel(x.shape);
  if (n > 0) b.device.launch('ew_unary', b.device.gridFor(n), BLOCK, [i32(UNARY_OPS[op]), ptr(b.ptr(x)), i32(dt(x.dtype)), ptr(b.ptr(out)), i32(dt(outDtype)), i64(n), f32(p0), f32(p1)]);
  return out;
}

function binaryInto(b: CudaBackend, op: BinaryOp, a: Info, c: Info, out: Info): void {
  const shape = out.shape;
  const n = numel(shape);
  if (n === 0) return;
  const na = numel(a.shape);
  const nc = numel(c.shape);
  let mode = 3;
  let view: Buffer;
  if (na === n && nc === n && sameShape(a.shape, c.shape)) mode = 0;
  else if (na === n && nc === 1) mode = 1;
  else if (na === 1 && nc === n) mode = 2;
  if (mode === 3) {
    const v = simplifyView(shape, [broadcastStrides(a.shape, shape), broadcastStrides(c.shape, shape)]);
    if (v.shape.length > MAX_RANK) throw new Error(`cuda: broadcast of rank ${v.shape.length} is not supported`);
    view = packView(v.shape, v.strides[0], v.strides[1]);
  } else view = packView([n]);
  b.device.launch('ew_binary', b.device.gridFor(n), BLOCK, [
    i32(BINARY_OPS[op]),
    ptr(b.ptr(a)),
    i32(dt(a.dtype)),
    ptr(b.ptr(c)),
    i32(dt(c.dtype)),
    ptr(b.ptr(out)),
    i32(dt(out.dtype)),
    view,
    i32(mode),
  ]);
}

function binary(b: CudaBackend, op: BinaryOp, a: Info, c: Info, outDtype: tf.DataType): Info {
  const shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, c.shape);
  const out = b.makeOutput(shape, outDtype);
  binaryInto(b, op, a, c, out);
  return out;
}

function sameShape(a: readonly number[], c: readonly number[]): boolean {
  return a.length === c.length && a.every((d, i) => d === c[i]);
}

// ---- layout: strided copies ---------------------------------------------------------------------

/** y (contiguous `shape`, at element offset yoff with strides ys) ← x read with strides xs from xoff (mod: tile) */
function copyView(b: CudaBackend, x: Info, y: Info, shape: number[], xs: number[], ys: number[], xoff = 0, yoff = 0, mod: number[] = []): void {
  const n = numel(shape);
  if (n === 0) return;
  let s = shape;
  let sx = xs;
  let sy = ys;
  let m = mod;
  if (mod.length === 0) {
    const v = simplifyView(shape, [xs, ys]);
    s = v.shape.length ? v.shape : [1];
    sx = v.strides[0].length ? v.strides[0] : [0];
    sy = v.strides[1].length ? v.strides[1] : [0];
    m = [];
  }
  if (s.length > MAX_RANK) throw new Error(`cuda: copy of rank ${s.length} is not supported`);
  b.device.launch('copy_view', b.device.gridFor(n), BLOCK, [ptr(b.ptr(x)), ptr(b.ptr(y)), packView(s, sx, sy, [], m), i64(xoff), i64(yoff)]);
}

function transpose(b: CudaBackend, x: Info, perm: number[]): Info {
  const outShape = perm.map((p) => x.shape[p]);
  const out = b.makeOutput(outShape, x.dtype);
  const xs = stridesOf(x.shape);
  copyView(
    b,
    x,
    out,
    outShape,
    perm.map((p) => xs[p]),
    stridesOf(outShape),
  );
  return out;
}

function slice(b: CudaBackend, x: Info, begin: number[], size: number[]): Info {
  const out = b.makeOutput(size.slice(), x.dtype);
  const xs = stridesOf(x.shape);
  const off = begin.reduce((a, bg, i) => a + bg * xs[i], 0);
  copyView(b, x, out, size, xs, stridesOf(size), off, 0);
  return out;
}

function concat(b: CudaBackend, xs: Info[], axis: number): Info {
  const shape = xs[0].shape.slice();
  shape[axis] = xs.reduce((a, t) => a + t.shape[axis], 0);
  const out = b.makeOutput(shape, xs[0].dtype);
  const os = stridesOf(shape);
  let at = 0;
  for (const t of xs) {
    if (numel(t.shape) > 0) copyView(b, t, out, t.shape.slice(), stridesOf(t.shape), os, 0, at * os[axis]);
    at += t.shape[axis];
  }
  return out;
}

function castTo(b: CudaBackend, x: Info, dtype: tf.DataType): Info {
  if (x.dtype === dtype || (x.dtype !== 'float32' && dtype === 'int32')) return b.alias(x, x.shape, dtype);
  if (dtype === 'bool') return unary(b, x, 'toBool', 'bool');
  return unary(b, x, 'identity', dtype);
}

// ---- reductions ---------------------------------------------------------------------------------

function reduce(b: CudaBackend, x: Info, axisAttr: number | number[] | undefined, keepDims: boolean, op: ReduceOp, outDtype: tf.DataType): Info {
  const rank = x.shape.length;
  const axes = tf.util.parseAxisParam(axisAttr ?? Array.from({ length: rank }, (_, i) => i), x.shape).sort((p, q) => p - q);
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const inner = numel(axes.map((a) => x.shape[a]));
  const rows = numel(kept.map((a) => x.shape[a]));
  const outShape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : kept.map((a) => x.shape[a]);
  const innermost = axes.every((a, i) => a === rank - axes.length + i);
  let src = x;
  let temp: Info | null = null;
  if (!innermost) src = temp = transpose(b, x, [...kept, ...axes]);
  const out = b.makeOutput(outShape, outDtype);
  try {
    if (rows === 0) return out;
    if (inner === 0) {
      const init = op === 'prod' || op === 'all' ? 1 : op === 'max' ? -Infinity : op === 'min' ? Infinity : 0;
      fill(b, out, init);
      return out;
    }
    reduceRows(b, src, out, rows, inner, op);
    return out;
  } finally {
    if (temp) b.disposeData(temp.dataId);
  }
}

/** out[r] = op over src[r, 0..inner), splitting long rows over several blocks when there are few rows. */
function reduceRows(b: CudaBackend, src: Info, out: Info, rows: number, inner: number, op: ReduceOp): void {
  const d = b.device;
  const parts = rows < 2 * d.multiprocessors && inner > 32768 && op !== 'argMax' && op !== 'argMin' ? Math.min(1024, Math.ceil(inner / 16384)) : 1;
  const grid = Math.min(rows * parts, 65535 * 8);
  if (parts === 1) {
    d.launch('reduce_rows', grid, BLOCK, [i32(REDUCE_OPS[op]), ptr(b.ptr(src)), i32(dt(src.dtype)), ptr(b.ptr(out)), i32(dt(out.dtype)), i64(rows), i64(inner), i32(1)]);
    return;
  }
  if (op === 'sum') {
    const partial = d.alloc(rows * parts * 8);
    try {
      d.launch('sum_parts', grid, BLOCK, [ptr(b.ptr(src)), i32(dt(src.dtype)), ptr(partial), i64(rows), i64(inner), i32(parts)]);
      d.launch('reduce_partials', d.gridFor(rows), BLOCK, [ptr(partial), ptr(b.ptr(out)), i32(dt(out.dtype)), i64(rows), i32(parts)]);
    } finally {
      d.release(partial);
    }
    return;
  }
  const tmp = b.makeOutput([rows, parts], src.dtype);
  try {
    d.launch('reduce_rows', grid, BLOCK, [i32(REDUCE_OPS[op]), ptr(b.ptr(src)), i32(dt(src.dtype)), ptr(b.ptr(tmp)), i32(dt(src.dtype)), i64(rows), i64(inner), i32(parts)]);
    d.launch('reduce_rows', Math.min(rows, 65535 * 8), BLOCK, [i32(REDUCE_OPS[op]), ptr(b.ptr(tmp)), i32(dt(src.dtype)), ptr(b.ptr(out)), i32(dt(out.dtype)), i64(rows), i64(parts), i32(1)]);
  } finally {
    b.disposeData(tmp.dataId);
  }
}

function fill(b: CudaBackend, out: Info, value: number): void {
  const n = numel(out.shape);
  const bits = out.dtype === 'float32' ? new Uint32Array(new Float32Array([value]).buffer)[0] : (out.dtype === 'bool' ? (value ? 1 : 0) : value | 0) >>> 0;
  b.device.fill32(b.ptr(out), bits, n);
}

// ---- matrix products ----------------------------------------------------------------------------

function broadcastTo(b: CudaBackend, x: Info, shape: number[]): Info {
  const out = b.makeOutput(shape, x.dtype);
  copyView(b, x, out, shape, broadcastStrides(x.shape, shape), stridesOf(shape));
  return out;
}

function batchMatMul(b: CudaBackend, a: Info, c: Info, transA: boolean, transB: boolean): Info {
  const ra = a.shape.length;
  const rc = c.shape.length;
  const m = transA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transA ? a.shape[ra - 2] : a.shape[ra - 1];
  const n = transB ? c.shape[rc - 2] : c.shape[rc - 1];
  const batchA = a.shape.slice(0, -2);
  const batchB = c.shape.slice(0, -2);
  const batchOut = tf.backend_util.assertAndGetBroadcastShape(batchA, batchB);
  const out = b.makeOutput([...batchOut, m, n], 'float32');
  const nb = numel(batchOut);
  if (nb * m * n === 0) return out;
  if (k === 0) {
    fill(b, out, 0);
    return out;
  }
  const temps: Info[] = [];
  try {
    let A = a.dtype === 'float32' ? a : (temps.push(castTo(b, a, 'float32')), temps[temps.length - 1]);
    let B = c.dtype === 'float32' ? c : (temps.push(castTo(b, c, 'float32')), temps[temps.length - 1]);
    let na = numel(batchA);
    let nbB = numel(batchB);
    // different batch shapes that are not simply shared (one matrix for all): materialise the broadcast
    const full = (bs: number[], cnt: number) => cnt === nb && sameShape(bs.length === batchOut.length ? bs : [...new Array(batchOut.length - bs.length).fill(1), ...bs], batchOut);
    if (!(na === 1 || full(batchA, na))) {
      A = broadcastTo(b, A, [...batchOut, ...A.shape.slice(-2)]);
      temps.push(A);
      na = nb;
    }
    if (!(nbB === 1 || full(batchB, nbB))) {
      B = broadcastTo(b, B, [...batchOut, ...B.shape.slice(-2)]);
      temps.push(B);
      nbB = nb;
    }
    // bf16: each operand's bfloat16 copy, made once per tensor and kept with it (weights: at upload)
    const precision = b.precision;
    const pa = precision === 'bf16' ? b.halfPtr(A) : b.ptr(A);
    const pb = precision === 'bf16' ? b.halfPtr(B) : b.ptr(B);
    // one shared right-hand matrix and a plain left operand: fold the batch into the rows
    if (nb > 1 && nbB === 1 && na === nb && !transA) {
      b.device.gemm({ a: pa, b: pb, c: b.ptr(out), m: nb * m, n, k, transA, transB, batch: 1, strideA: 0, strideB: 0, strideC: 0, precision });
    } else {
      b.device.gemm({ a: pa, b: pb, c: b.ptr(out), m, n, k, transA, transB, batch: nb, strideA: na === 1 ? 0 : m * k, strideB: nbB === 1 ? 0 : k * n, strideC: m * n, precision });
    }
    return out;
  } finally {
    for (const t of temps) b.disposeData(t.dataId);
  }
}

const UNARY_KERNELS: Array<[string, UnaryOp]> = [
  ['Abs', 'abs'],
  ['Neg', 'neg'],
  ['Exp', 'exp'],
  ['Log', 'log'],
  ['Sqrt', 'sqrt'],
  ['Rsqrt', 'rsqrt'],
  ['Square', 'square'],
  ['Sigmoid', 'sigmoid'],
  ['Tanh', 'tanh'],
  ['Relu', 'relu'],
  ['Sin', 'sin'],
  ['Cos', 'cos'],
  ['Reciprocal', 'reciprocal'],
  ['Sign', 'sign'],
  ['Floor', 'floor'],
  ['Ceil', 'ceil'],
  ['Round', 'round'],
  ['Softplus', 'softplus'],
  ['Log1p', 'log1p'],
  ['Expm1', 'expm1'],
  ['Elu', 'elu'],
  ['Erf', 'erf'],
  ['Relu6', 'relu6'],
  ['Atan', 'atan'],
  ['Asin', 'asin'],
  ['Acos', 'acos'],
  ['Tan', 'tan'],
  ['Sinh', 'sinh'],
  ['Cosh', 'cosh'],
  ['Selu', 'selu'],
];

const BINARY_KERNELS: Array<[string, BinaryOp, 'same' | 'float' | 'bool']> = [
  ['Add', 'add', 'same'],
  ['Sub', 'sub', 'same'],
  ['Multiply', 'mul', 'same'],
  ['RealDiv', 'div', 'float'],
  ['Maximum', 'maximum', 'same'],
  ['Minimum', 'minimum', 'same'],
  ['Pow', 'pow', 'same'],
  ['SquaredDifference', 'squaredDifference', 'same'],
  ['Less', 'less', 'bool'],
  ['LessEqual', 'lessEqual', 'bool'],
  ['Greater', 'greater', 'bool'],
  ['GreaterEqual', 'greaterEqual', 'bool'],
  ['Equal', 'equal', 'bool'],
  ['NotEqual', 'notEqual', 'bool'],
  ['LogicalAnd', 'logicalAnd', 'bool'],
  ['LogicalOr', 'logicalOr', 'bool'],
  ['FloorDiv', 'floorDiv', 'same'],
  ['Mod', 'mod', 'same'],
  ['Atan2', 'atan2', 'float'],
  ['DivNoNan', 'divNoNan', 'float'],
  ['Prelu', 'prelu', 'float'],
];

let registered = false;

/** Registers the cuda kernels (once), then the cpu fallbacks for every other kernel. */
export function registerCudaKernels(): void {
  if (registered) return;
  registered = true;
  for (const [name, op] of UNARY_KERNELS)
    reg(name, (b, { x }) => unary(b, x, op, x.dtype === 'bool' ? 'float32' : x.dtype === 'int32' && op !== 'abs' && op !== 'neg' && op !== 'square' && op !== 'sign' ? 'float32' : x.dtype));
  for (const [name, op, kind] of BINARY_KERNELS) {
    reg(name, (b, { a, b: c }) => {
      const outDtype = kind === 'bool' ? 'bool' : kind === 'float' ? 'float32' : tf.upcastType(a.dtype, c.dtype) === 'bool' ? 'int32' : tf.upcastType(a.dtype, c.dtype);
      return binary(b, op, a, c, outDtype);
    });
  }
  reg('Step', (b, { x }, at) => unary(b, x, 'step', 'float32', (at.alpha as number) ?? 0));
  reg('LeakyRelu', (b, { x }, at) => unary(b, x, 'leakyRelu', 'float32', at.alpha as number));
  reg('ClipByValue', (b, { x }, at) => unary(b, x, 'clip', x.dtype, at.clipValueMin as number, at.clipValueMax as number));
  reg('LogicalNot', (b, { x }) => unary(b, x, 'logicalNot', 'bool'));
  reg('IsNan', (b, { x }) => unary(b, x, 'isNan', 'bool'));
  reg('IsInf', (b, { x }) => unary(b, x, 'isInf', 'bool'));
  reg('IsFinite', (b, { x }) => unary(b, x, 'isFinite', 'bool'));
  reg('AddN', (b, inputs) => {
    const xs = Object.values(inputs);
    if (xs.length === 1) return b.alias(xs[0], xs[0].shape);
    const acc = binary(b, 'add', xs[0], xs[1], xs[0].dtype);
    for (let i = 2; i < xs.length; i++) binaryInto(b, 'add', acc, xs[i], acc);
    return acc;
  });
  reg('Cast', (b, { x }, at) => castTo(b, x, at.dtype as tf.DataType));
  reg('Identity', (b, { x }) => b.alias(x, x.shape.slice()));
  reg('Reshape', (b, { x }, at) => b.alias(x, tf.util.inferFromImplicitShape((at.shape as number[]).slice(), numel(x.shape))));
  reg('ExpandDims', (b, { input }, at) => {
    const s = input.shape.slice();
    let d = at.dim as number;
    if (d < 0) d = s.length + d + 1;
    s.splice(d, 0, 1);
    return b.alias(input, s);
  });
  reg('Squeeze', (b, { x }, at) => {
    const ax = at.axis as number[] | undefined;
    const axes = ax && ax.length ? tf.util.parseAxisParam(ax, x.shape) : x.shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
    return b.alias(
      x,
      x.shape.filter((_, i) => !axes.includes(i)),
    );
  });
  reg('Transpose', (b, { x }, at) => transpose(b, x, at.perm as number[]));
  reg('Slice', (b, { x }, at) => {
    const [begin, size] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, at.begin as number[], at.size as number[]);
    return slice(b, x, begin, size);
  });
  reg('Concat', (b, inputs, at) => {
    const xs = Object.values(inputs);
    const axis = tf.util.parseAxisParam(at.axis as number, xs[0].shape)[0];
    const nonEmpty = xs.filter((t) => numel(t.shape) > 0);
    if (nonEmpty.length === 1) return b.alias(nonEmpty[0], nonEmpty[0].shape);
    return concat(b, xs, axis);
  });
  reg('Pack', (b, inputs, at) => {
    const xs = Object.values(inputs);
    let axis = at.axis as number;
    if (axis < 0) axis += xs[0].shape.length + 1;
    const expanded = xs.map((t) => {
      const s = t.shape.slice();
      s.splice(axis, 0, 1);
      return { ...t, shape: s };
    });
    return concat(b, expanded, axis);
  });
  reg('Unpack', (b, { value }, at) => {
    let axis = at.axis as number;
    if (axis < 0) axis += value.shape.length;
    const size = value.shape.slice();
    size[axis] = 1;
    const outShape = value.shape.filter((_, i) => i !== axis);
    const outs: Info[] = [];
    for (let i = 0; i < value.shape[axis]; i++) {
      const begin = value.shape.map((_, j) => (j === axis ? i : 0));
      const s = slice(b, value, begin, size);
      s.shape = outShape.slice();
      outs.push(s);
    }
    return outs;
  });
  reg('SplitV', (b, { x }, at) => {
    const axis = tf.util.parseAxisParam(at.axis as number, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, at.numOrSizeSplits as number | number[], axis);
    const outs: Info[] = [];
    let at0 = 0;
    for (const s of sizes) {
      const begin = x.shape.map((_, j) => (j === axis ? at0 : 0));
      const size = x.shape.slice();
      size[axis] = s;
      outs.push(slice(b, x, begin, size));
      at0 += s;
    }
    return outs;
  });
  reg('Tile', (b, { x }, at) => {
    const reps = at.reps as number[];
    const shape = x.shape.map((d, i) => d * reps[i]);
    const out = b.makeOutput(shape, x.dtype);
    if (numel(shape) > 0) copyView(b, x, out, shape, stridesOf(x.shape), stridesOf(shape), 0, 0, x.shape.slice());
    return out;
  });
  reg('BroadcastTo', (b, { x }, at) => broadcastTo(b, x, (at.shape as number[]).slice()));
  reg('Reverse', (b, { x }, at) => {
    const axes = tf.util.parseAxisParam(at.dims as number[], x.shape);
    const xs = stridesOf(x.shape);
    const out = b.makeOutput(x.shape.slice(), x.dtype);
    const off = axes.reduce((a, ax) => a + (x.shape[ax] - 1) * xs[ax], 0);
    copyView(
      b,
      x,
      out,
      x.shape.slice(),
      xs.map((s, i) => (axes.includes(i) ? -s : s)),
      stridesOf(x.shape),
      off,
      0,
      [],
    );
    return out;
  });
  reg('PadV2', (b, { x }, at) => {
    const pads = at.paddings as Array<[number, number]>;
    const shape = x.shape.map((d, i) => d + pads[i][0] + pads[i][1]);
    const out = b.makeOutput(shape, x.dtype);
    fill(b, out, at.constantValue as number);
    const os = stridesOf(shape);
    if (numel(x.shape) > 0)
      copyView(
        b,
        x,
        out,
        x.shape.slice(),
        stridesOf(x.shape),
        os,
        0,
        pads.reduce((a, p, i) => a + p[0] * os[i], 0),
      );
    return out;
  });
  reg('Fill', (b, _i, at) => {
    const out = b.makeOutput((at.shape as number[]).slice(), (at.dtype as tf.DataType) ?? 'float32');
    fill(b, out, at.value as number);
    return out;
  });
  reg('ZerosLike', (b, { x }) => {
    const out = b.makeOutput(x.shape.slice(), x.dtype);
    fill(b, out, 0);
    return out;
  });
  reg('OnesLike', (b, { x }) => {
    const out = b.makeOutput(x.shape.slice(), x.dtype);
    fill(b, out, 1);
    return out;
  });
  reg('Select', (b, { condition, t, e }) => {
    const shape = t.shape.slice();
    const out = b.makeOutput(shape, t.dtype);
    const n = numel(shape);
    if (n === 0) return out;
    // TF.js: a condition of rank 1 selects whole rows of t / e
    const cs = condition.shape.length === 1 && shape.length > 1 ? [condition.shape[0], ...new Array(shape.length - 1).fill(1)] : condition.shape;
    const v = simplifyView(shape, [broadcastStrides(cs, shape), stridesOf(shape), stridesOf(shape)]);
    const s = v.shape.length ? v.shape : [1];
    const st = v.strides.map((x) => (x.length ? x : [0]));
    b.device.launch('select3', b.device.gridFor(n), BLOCK, [ptr(b.ptr(condition)), ptr(b.ptr(t)), ptr(b.ptr(e)), ptr(b.ptr(out)), packView(s, st[0], st[1], st[2])]);
    return out;
  });
  const reduction = (name: string, op: ReduceOp, outDtype?: (d: tf.DataType) => tf.DataType) =>
    reg(name, (b, { x }, at) => reduce(b, x, (at.axis ?? at.reductionIndices) as number | number[], Boolean(at.keepDims), op, outDtype ? outDtype(x.dtype) : x.dtype));
  reduction('Sum', 'sum', (d) => (d === 'bool' ? 'int32' : d));
  reduction('Prod', 'prod', (d) => (d === 'bool' ? 'int32' : d));
  reduction('Max', 'max');
  reduction('Min', 'min');
  reduction('Any', 'any', () => 'bool');
  reduction('All', 'all', () => 'bool');
  reg('ArgMax', (b, { x }, at) => reduce(b, x, [tf.util.parseAxisParam(at.axis as number, x.shape)[0]], false, 'argMax', 'int32'));
  reg('ArgMin', (b, { x }, at) => reduce(b, x, [tf.util.parseAxisParam(at.axis as number, x.shape)[0]], false, 'argMin', 'int32'));
  reg('Mean', (b, { x }, at) => {
    const s = reduce(b, x, at.axis as number | number[], Boolean(at.keepDims), 'sum', 'float32');
    const k = numel(x.shape) / Math.max(1, numel(s.shape));
    const out = unary(b, s, 'affine', 'float32', 1 / k, 0);
    b.disposeData(s.dataId);
    return out;
  });
  reg('Softmax', (b, { logits }, at) => {
    const dim = at.dim as number;
    const rank = logits.shape.length;
    if (dim !== -1 && dim !== rank - 1) throw new Error('cuda: softmax over an inner axis is not supported');
    const cols = logits.shape[rank - 1];
    const rows = numel(logits.shape) / Math.max(cols, 1);
    const out = b.makeOutput(logits.shape.slice(), 'float32');
    if (rows * cols > 0) b.device.launch('softmax_rows', Math.min(rows, 65535 * 8), BLOCK, [ptr(b.ptr(logits)), ptr(b.ptr(out)), i64(rows), i32(cols), i32(0)]);
    return out;
  });
  reg('BatchMatMul', (b, { a, b: c }, at) => batchMatMul(b, a, c, Boolean(at.transposeA), Boolean(at.transposeB)));
  reg('GatherV2', (b, { x, indices }, at) => {
    const axis = tf.util.parseAxisParam(at.axis as number, x.shape)[0];
    if (((at.batchDims as number) ?? 0) !== 0) throw new Error('cuda: gather with batchDims is not supported');
    const outer = numel(x.shape.slice(0, axis));
    const inner = numel(x.shape.slice(axis + 1));
    const K = numel(indices.shape);
    const out = b.makeOutput([...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)], x.dtype);
    const idx = indices.dtype === 'int32' ? indices : castTo(b, indices, 'int32');
    const n = outer * K * inner;
    if (n > 0) b.device.launch('gather_rows', b.device.gridFor(n), BLOCK, [ptr(b.ptr(x)), ptr(b.ptr(idx)), ptr(b.ptr(out)), i64(outer), i32(x.shape[axis]), i64(K), i64(inner)]);
    if (idx !== indices) b.disposeData(idx.dataId);
    return out;
  });
  reg('UnsortedSegmentSum', (b, { x, segmentIds }, at) => {
    const numSegments = at.numSegments as number;
    const N = numel(segmentIds.shape);
    const inner = numel(x.shape) / Math.max(N, 1);
    const outShape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
    const out = b.makeOutput(outShape, 'float32');
    fill(b, out, 0);
    const src = x.dtype === 'float32' ? x : castTo(b, x, 'float32');
    const seg = segmentIds.dtype === 'int32' ? segmentIds : castTo(b, segmentIds, 'int32');
    if (N * inner > 0) b.device.launch('segment_sum', b.device.gridFor(N * inner), BLOCK, [ptr(b.ptr(src)), ptr(b.ptr(seg)), ptr(b.ptr(out)), i64(N), i64(inner), i32(numSegments)]);
    if (src !== x) b.disposeData(src.dataId);
    if (seg !== segmentIds) b.disposeData(seg.dataId);
    if (x.dtype !== 'float32') {
      const o = castTo(b, out, x.dtype);
      b.disposeData(out.dataId);
      return o;
    }
    return out;
  });
  reg('OneHot', (b, { indices }, at) => {
    const depth = at.depth as number;
    const n = numel(indices.shape);
    const dtype = (at.dtype as tf.DataType) ?? 'int32';
    const f = b.makeOutput([...indices.shape, depth], 'float32');
    const idx = indices.dtype === 'int32' ? indices : castTo(b, indices, 'int32');
    if (n * depth > 0) b.device.launch('one_hot', b.device.gridFor(n * depth), BLOCK, [ptr(b.ptr(idx)), ptr(b.ptr(f)), i64(n), i32(depth), f32(at.onValue as number), f32(at.offValue as number)]);
    if (idx !== indices) b.disposeData(idx.dataId);
    if (dtype === 'float32') return f;
    const o = castTo(b, f, dtype);
    b.disposeData(f.dataId);
    return o;
  });
  registerFusedKernels();
  registerFallbacks();
}

/**
 * A float32 tensor of `shape` from stored bfloat16 / float16 halves: bfloat16 stays as it is stored
 * (the tensor's bf16 copy; its float32 words are made only if a kernel other than a bf16 product
 * reads it), float16 is widened on the GPU.
 */
export function decodeHalves(b: CudaBackend, raw: Uint8Array, dtype: 'BF16' | 'F16', shape: number[]): Info {
  if (dtype === 'BF16') return b.writeBf16(raw, shape);
  const n = numel(shape);
  const out = b.makeOutput(shape, 'float32');
  if (n === 0) return out;
  const tmp = b.device.alloc(n * 2);
  try {
    b.device.upload(tmp, raw.subarray(0, n * 2));
    b.device.launch('halves_to_f32', b.device.gridFor(n), BLOCK, [ptr(tmp), ptr(b.ptr(out)), i64(n), i32(1)]);
  } finally {
    b.device.release(tmp);
  }
  return out;
}
