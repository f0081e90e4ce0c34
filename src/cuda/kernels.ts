/**
 * The `cuda` backend's device code: CUDA C kept as source strings, compiled by NVRTC at first use
 * (one module per process, see device.ts). A few generic kernels serve many TF.js kernels through an
 * op code, so one compile covers them all:
 *   ew_unary    y = f(x), with dtype conversion (float32 / int32 storage)
 *   ew_binary   c = f(a, b) with broadcasting through per-dimension strides (0 = broadcast)
 *   copy_view   y[view] = x[view]: transpose, slice, concat, tile, pad, reverse, pack, broadcast
 *   reduce_rows y[r] = reduce(x[r, 0..inner)) (sum, max, min, prod, any, all, argmax, argmin)
 *   softmax_rows, gather_rows, segment_sum, one_hot, select3, bf16 casts, and the fused kernels
 *   (fused.ts: rms_norm and its gradient, rope_split / rope_merge, masked_softmax and its gradient,
 *   swiglu and its gradient, lse_chunk / ce_chunk_grad for the chunked vocabulary head,
 *   segment_rows_sum for the embedding gradient's rows; add_same for layer.ts's residual paths).
 * Arithmetic is float32 (sums in float64); integer tensors are converted on load and store.
 */

/** Rank of the strided views passed to kernels. */
export const MAX_RANK = 6;

export const UNARY_OPS = {
  identity: 0,
  neg: 1,
  abs: 2,
  exp: 3,
  log: 4,
  sqrt: 5,
  rsqrt: 6,
  square: 7,
  sigmoid: 8,
  tanh: 9,
  relu: 10,
  sin: 11,
  cos: 12,
  reciprocal: 13,
  sign: 14,
  floor: 15,
  ceil: 16,
  round: 17,
  step: 18,
  logicalNot: 19,
  softplus: 20,
  log1p: 21,
  expm1: 22,
  elu: 23,
  clip: 24,
  isNan: 25,
  erf: 26,
  leakyRelu: 27,
  relu6: 28,
  toBool: 29,
  affine: 30,
  isInf: 31,
  isFinite: 32,
  atan: 33,
  asin: 34,
  acos: 35,
  tan: 36,
  sinh: 37,
  cosh: 38,
  selu: 39,
  powScalar: 40,
} as const;
export type UnaryOp = keyof typeof UNARY_OPS;

export const BINARY_OPS = {
  add: 0,
  sub: 1,
  mul: 2,
  div: 3,
  maximum: 4,
  minimum: 5,
  pow: 6,
  squaredDifference: 7,
  less: 8,
  lessEqual: 9,
  greater: 10,
  greaterEqual: 11,
  equal: 12,
  notEqual: 13,
  logicalAnd: 14,
  logicalOr: 15,
  floorDiv: 16,
  mod: 17,
  atan2: 18,
  divNoNan: 19,
  prelu: 20,
  absMul: 21,
} as const;
export type BinaryOp = keyof typeof BINARY_OPS;

export const REDUCE_OPS = { sum: 0, max: 1, min: 2, prod: 3, any: 4, all: 5, argMax: 6, argMin: 7 } as const;
export type ReduceOp = keyof typeof REDUCE_OPS;

/** Storage codes of device tensors: everything is 4 bytes per element. */
export const DT_FLOAT = 0;
export const DT_INT = 1;

/** Byte size of the `View` struct passed by value (must match the C layout below). */
export const VIEW_BYTES = 8 + 8 + MAX_RANK * 4 + MAX_RANK * 4 + 3 * MAX_RANK * 8;

const unaryCases: Record<UnaryOp, string> = {
  identity: 'return x;',
  neg: 'return -x;',
  abs: 'return fabsf(x);',
  exp: 'return expf(x);',
  log: 'return logf(x);',
  sqrt: 'return sqrtf(x);',
  rsqrt: 'return 1.0f / sqrtf(x);',
  square: 'return x * x;',
  sigmoid: 'return 1.0f / (1.0f + expf(-x));',
  tanh: 'return tanhf(x);',
  relu: 'return x < 0.0f ? 0.0f : x;',
  sin: 'return sinf(x);',
  cos: 'return cosf(x);',
  reciprocal: 'return 1.0f / x;',
  sign: 'return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f);',
  floor: 'return floorf(x);',
  ceil: 'return ceilf(x);',
  round: 'return rintf(x);',
  step: 'return isnan(x) ? x : (x > 0.0f ? 1.0f : p0);',
  logicalNot: 'return x == 0.0f ? 1.0f : 0.0f;',
  softplus: 'return x > 20.0f ? x : (x < -20.0f ? expf(x) : log1pf(expf(x)));',
  log1p: 'return log1pf(x);',
  expm1: 'return expm1f(x);',
  elu: 'return x >= 0.0f ? x : expm1f(x);',
  clip: 'return x < p0 ? p0 : (x > p1 ? p1 : x);',
  isNan: 'return isnan(x) ? 1.0f : 0.0f;',
  erf: 'return erff(x);',
  leakyRelu: 'return x < 0.0f ? p0 * x : x;',
  relu6: 'return x < 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x);',
  toBool: 'return x != 0.0f ? 1.0f : 0.0f;',
  affine: 'return x * p0 + p1;',
  isInf: 'return isinf(x) ? 1.0f : 0.0f;',
  isFinite: 'return isfinite(x) ? 1.0f : 0.0f;',
  atan: 'return atanf(x);',
  asin: 'return asinf(x);',
  acos: 'return acosf(x);',
  tan: 'return tanf(x);',
  sinh: 'return sinhf(x);',
  cosh: 'return coshf(x);',
  selu: 'return x >= 0.0f ? 1.0507009873554804934193349852946f * x : 1.7580993408473768599402175208123f * expm1f(x);',
  powScalar: 'return powf(x, p0);',
};

const binaryCases: Record<BinaryOp, string> = {
  add: 'return a + b;',
  sub: 'return a - b;',
  mul: 'return a * b;',
  div: 'return a / b;',
  maximum: 'return (isnan(a) || isnan(b)) ? __int_as_float(0x7fc00000) : fmaxf(a, b);',
  minimum: 'return (isnan(a) || isnan(b)) ? __int_as_float(0x7fc00000) : fminf(a, b);',
  pow: 'return powf(a, b);',
  squaredDifference: '{ float d = a - b; return d * d; }',
  less: 'return a < b ? 1.0f : 0.0f;',
  lessEqual: 'return a <= b ? 1.0f : 0.0f;',
  greater: 'return a > b ? 1.0f : 0.0f;',
  greaterEqual: 'return a >= b ? 1.0f : 0.0f;',
  equal: 'return a == b ? 1.0f : 0.0f;',
  notEqual: 'return a != b ? 1.0f : 0.0f;',
  logicalAnd: 'return (a != 0.0f && b != 0.0f) ? 1.0f : 0.0f;',
  logicalOr: 'return (a != 0.0f || b != 0.0f) ? 1.0f : 0.0f;',
  floorDiv: 'return floorf(a / b);',
  mod: '{ float r = fmodf(a, b); return (r != 0.0f && ((r < 0.0f) != (b < 0.0f))) ? r + b : r; }',
  atan2: 'return atan2f(a, b);',
  divNoNan: 'return b == 0.0f ? 0.0f : a / b;',
  prelu: 'return a < 0.0f ? a * b : a;',
  absMul: 'return fabsf(a) * fabsf(b);',
};

function switchOf(cases: Record<string, string>, codes: Record<string, number>, fallback: string): string {
  return Object.entries(cases)
    .map(([k, body]) => `    case ${codes[k]}: ${body}`)
    .concat([`    default: ${fallback}`])
    .join('\n');
}

/** The whole module's source. */
export function kernelSource(): string {
  return `
#define MAXR ${MAX_RANK}
#ifndef INFINITY
#define INFINITY __int_as_float(0x7f800000)
#endif
#ifndef NAN
#define NAN __int_as_float(0x7fc00000)
#endif
typedef long long i64;
struct View { i64 n; int rank; int pad; int shape[MAXR]; int mod[MAXR]; i64 sx[MAXR]; i64 sy[MAXR]; i64 sz[MAXR]; };

/* float32 -> bfloat16 bits, round to nearest even (NaN kept quiet): f32_to_bf16's rounding, shared by
   the kernels that also write a bfloat16 copy of their output (yh) for matrix products */
__device__ __forceinline__ unsigned short bf16_bits(float f) {
  unsigned int u = __float_as_uint(f);
  return (u & 0x7fffffffu) > 0x7f800000u ? (unsigned short)((u >> 16) | 0x40u) : (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
/* stores v as float32 (y) and/or bfloat16 (yh), whichever is given */
__device__ __forceinline__ void put(float *y, unsigned short *yh, i64 i, float v) { if (y) y[i] = v; if (yh) yh[i] = bf16_bits(v); }
__device__ __forceinline__ float ld(const void *p, i64 i, int dt) { return dt == ${DT_FLOAT} ? ((const float *)p)[i] : (float)((const int *)p)[i]; }
__device__ __forceinline__ void st(void *p, i64 i, int dt, float v) { if (dt == ${DT_FLOAT}) ((float *)p)[i] = v; else ((int *)p)[i] = (int)v; }

__device__ __forceinline__ float unop(int op, float x, float p0, float p1) {
  switch (op) {
${switchOf(unaryCases, UNARY_OPS, 'return x;')}
  }
}

__device__ __forceinline__ float binop(int op, float a, float b) {
  switch (op) {
${switchOf(binaryCases, BINARY_OPS, 'return a;')}
  }
}

extern "C" __global__ void ew_unary(int op, const void *x, int tx, void *y, int ty, i64 n, float p0, float p1) {
  for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
    st(y, i, ty, unop(op, ld(x, i, tx), p0, p1));
}

/* mode 0: same shape; 1: b is one element; 2: a is one element; 3: strided broadcast through v.sx (a), v.sy (b) */
extern "C" __global__ void ew_binary(int op, const void *a, int ta, const void *b, int tb, void *c, int tc, View v, int mode) {
  for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < v.n; i += (i64)gridDim.x * blockDim.x) {
    i64 ia = i, ib = i;
    if (mode == 1) ib = 0;
    else if (mode == 2) ia = 0;
    else if (mode == 3) {
      ia = 0; ib = 0;
      if (v.n < 2147483647LL) {
        unsigned int r = (unsigned int)i;
        for (int d = v.rank - 1; d >= 0; d--) { unsigned int s = (unsigned int)v.shape[d], k = r % s; r /= s; ia += k * v.sx[d]; ib += k * v.sy[d]; }
      } else {
        i64 r = i;
        for (int d = v.rank - 1; d >= 0; d--) { int k = (int)(r % v.shape[d]); r /= v.shape[d]; ia += k * v.sx[d]; ib += k * v.sy[d]; }
      }
    }
    st(c, i, tc, binop(op, ld(a, ia, ta), ld(b, ib, tb)));
  }
}

/* y[yoff + sum k_d sy_d] = x[xoff + sum (k_d mod m_d) sx_d] over v.shape (4-byte words, any dtype) */
extern "C" __global__ void copy_view(const int *x, int *y, View v, i64 xoff, i64 yoff) {
  for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < v.n; i += (i64)gridDim.x * blockDim.x) {
    i64 ix = xoff, iy = yoff;
    if (v.n < 2147483647LL) {
      unsigned int r = (unsigned int)i;
      for (int d = v.rank - 1; d >= 0; d--) {
        unsigned int s = (unsigned int)v.shape[d], k = r % s; r /= s;
        iy += k * v.sy[d];
        ix += (v.mod[d] > 0 ? k % (unsigned int)v.mod[d] : k) * v.sx[d];
      }
    } else {
      i64 r = i;
      for (int d = v.rank - 1; d >= 0; d--) {
        int k = (int)(r % v.shape[d]); r /= v.shape[d];
        iy += k * v.sy[d];
        ix += (v.mod[d] > 0 ? k % v.mod[d] : k) * v.sx[d];
      }
    }
    y[iy] = x[ix];
  }
}

/* where(cond, a, b): cond broadcast through v.sx, a through v.sy, b through v.sz */
extern "C" __global__ void select3(const int *cond, const int *a, const int *b, int *y, View v) {
  for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < v.n; i += (i64)gridDim.x * blockDim.x) {
    i64 r = i, ic = 0, ia = 0, ib = 0;
    for (int d = v.rank - 1; d >= 0; d--) { int k = (int)(r % v.shape[d]); r /= v.shape[d]; ic += k * v.sx[d]; ia += k * v.sy[d]; ib += k * v.sz[d]; }
    y[i] = cond[ic] != 0 ? a[ia] : b[ib];
  }
}

__device__ __forceinline__ double rinit(int op) {
  switch (op) { case 1: return -INFINITY; case 2: return INFINITY; case 3: return 1.0; case 5: return 1.0; default: return 0.0; }
}
__device__ __forceinline__ double rcomb(int op, double a, double b) {
  switch (op) {
    case 0: return a + b;
    case 1: return (isnan(a) || isnan(b)) ? NAN : (a > b ? a : b);
    case 2: return (isnan(a) || isnan(b)) ? NAN : (a < b ? a : b);
    case 3: return a * b;
    case 4: return (a != 0.0 || b != 0.0) ? 1.0 : 0.0;
    case 5: return (a != 0.0 && b != 0.0) ? 1.0 : 0.0;
    default: return a;
  }
}

/* One block per row (grid-stride over rows): y[r] = reduce x[r*inner + (j0 .. j1)), rows split into 'parts' pieces */
extern "C" __global__ void reduce_rows(int op, const void *x, int tx, void *y, int ty, i64 rows, i64 inner, int parts) {
  __shared__ double sv[256];
  __shared__ i64 si[256];
  for (i64 task = blockIdx.x; task < rows * parts; task += gridDim.x) {
    i64 r = task / parts; int part = (int)(task % parts);
    i64 per = (inner + parts - 1) / parts, j0 = part * per, j1 = min(inner, j0 + per);
    double acc; i64 best = -1;
    if (op >= 6) {
      acc = op == 6 ? -INFINITY : INFINITY;
      for (i64 j = j0 + threadIdx.x; j < j1; j += blockDim.x) {
        double v = ld(x, r * inner + j, tx);
        if (best < 0 || (op == 6 ? v > acc : v < acc)) { acc = v; best = j; }
      }
    } else {
      acc = rinit(op);
      for (i64 j = j0 + threadIdx.x; j < j1; j += blockDim.x) acc = rcomb(op, acc, (double)ld(x, r * inner + j, tx));
    }
    sv[threadIdx.x] = acc; si[threadIdx.x] = best;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
      if (threadIdx.x < s) {
        if (op >= 6) {
          double a = sv[threadIdx.x], b = sv[threadIdx.x + s]; i64 ia = si[threadIdx.x], ib = si[threadIdx.x + s];
          bool takeB = ib >= 0 && (ia < 0 || (op == 6 ? b > a : b < a) || (b == a && ib < ia));
          if (takeB) { sv[threadIdx.x] = b; si[threadIdx.x] = ib; }
        } else sv[threadIdx.x] = rcomb(op, sv[threadIdx.x], sv[threadIdx.x + s]);
      }
      __syncthreads();
    }
    if (threadIdx.x == 0) {
      if (op >= 6) st(y, task, ${DT_INT}, (float)(si[0] < 0 ? 0 : si[0]));
      else st(y, task, ty, (float)sv[0]);
    }
    __syncthreads();
  }
}

/* Partial sums in float64 for a two-stage sum (parts per row), then reduce_partials adds them in order. */
extern "C" __global__ void reduce_partials(const double *p, void *y, int ty, i64 rows, int parts) {
  for (i64 r = (i64)blockIdx.x * blockDim.x + threadIdx.x; r < rows; r += (i64)gridDim.x * blockDim.x) {
    double s = 0.0; for (int k = 0; k < parts; k++) s += p[r * parts + k]; st(y, r, ty, (float)s);
  }
}
extern "C" __global__ void sum_parts(const void *x, int tx, double *p, i64 rows, i64 inner, int parts) {
  __shared__ double sv[256];
  for (i64 task = blockIdx.x; task < rows * parts; task += gridDim.x) {
    i64 r = task / parts; int part = (int)(task % parts);
    i64 per = (inner + parts - 1) / parts, j0 = part * per, j1 = min(inner, j0 + per);
    double acc = 0.0;
    for (i64 j = j0 + threadIdx.x; j < j1; j += blockDim.x) acc += (double)ld(x, r * inner + j, tx);
    sv[threadIdx.x] = acc; __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) { if (threadIdx.x < s) sv[threadIdx.x] += sv[threadIdx.x + s]; __syncthreads(); }
    if (threadIdx.x == 0) p[task] = sv[0];
    __syncthreads();
  }
}

/* softmax (or log-softmax) over rows of length cols, one block per row */
extern "C" __global__ void softmax_rows(const float *x, float *y, i64 rows, int cols, int logOut) {
  __shared__ float red[256];
  for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
    const float *xr = x + r * cols; float *yr = y + r * cols;
    float m = -INFINITY;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) m = fmaxf(m, xr[j]);
    red[threadIdx.x] = m; __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) { if (threadIdx.x < s) red[threadIdx.x] = fmaxf(red[threadIdx.x], red[threadIdx.x + s]); __syncthreads(); }
    m = red[0]; __syncthreads();
    float sum = 0.0f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) sum += expf(xr[j] - m);
    red[threadIdx.x] = sum; __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) { if (threadIdx.x < s) red[threadIdx.x] += red[threadIdx.x + s]; __syncthreads(); }
    sum = red[0]; __syncthreads();
    if (logOut) { float ls = logf(sum); for (int j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = xr[j] - m - ls; }
    else { float inv = 1.0f / sum; for (int j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = expf(xr[j] - m) * inv; }
  }
}

/* y[o, k, j] = x[o, idx[k], j] (0 for an index out of range) */
extern "C" __global__ void gather_rows(const int *x, const int *idx, int *y, i64 outer, int axis, i64 K, i64 inner) {
  i64 n = outer * K * inner;
  for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x) {
    i64 j = i % inner, t = i / inner, k = t % K, o = t / K;
    int s = idx[k];
    y[i] = (s >= 0 && s < axis) ? x[(o * axis + s) * inner + j] : 0;
  }
}

/* y[seg[n], j] += x[n, j] (y zeroed first) */
extern "C" __global__ void segment_sum(const float *x, const int *seg, float *y, i64 N, i64 inner, int numSeg) {
  for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < N * inner; i += (i64)gridDim.x * blockDim.x) {
    int s = seg[i / inner];
    if (s >= 0 && s < numSeg) atomicAdd(&y[(i64)s * inner + i % inner], x[i]);
  }
}

extern "C" __global__ void one_hot(const int *idx, float *y, i64 n, int depth, float on, float off) {
  for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n * depth; i += (i64)gridDim.x * blockDim.x)
    y[i] = idx[i / depth] == (int)(i % depth) ? on : off;
}

/* float32 -> bfloat16, round to nearest even (NaN kept quiet) */
extern "C" __global__ void f32_to_bf16(const float *x, unsigned short *y, i64 n) {
  for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x) y[i] = bf16_bits(x[i]);
}

/* stored halves -> float32: kind 0 = bfloat16, 1 = IEEE float16 */
extern "C" __global__ void halves_to_f32(const unsigned short *x, float *y, i64 n, int kind) {
  for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x) {
    unsigned short h = x[i];
    if (kind == 0) y[i] = __int_as_float(((unsigned int)h) << 16);
    else {
      unsigned int s = (h >> 15) & 1u, e = (h >> 10) & 0x1fu, m = h & 0x3ffu; float v;
      if (e == 0) v = ldexpf((float)m, -24); else if (e == 31) v = m ? __int_as_float(0x7fc00000) : INFINITY; else v = ldexpf((float)(m | 0x400u), (int)e - 25);
      y[i] = s ? -v : v;
    }
  }
}

/* RMSNorm: y = w * x / sqrt(mean(x^2) + eps), one block per row; also writes r = 1/sqrt(...) per row
   (y and/or its bfloat16 copy yh) */
extern "C" __global__ void rms_norm(const float *x, const float *w, float *y, float *rinv, i64 rows, int cols, float eps, unsigned short *yh) {
  __shared__ float red[256];
  for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
    const float *xr = x + r * cols;
    float s = 0.0f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) s += xr[j] * xr[j];
    red[threadIdx.x] = s; __syncthreads();
    for (int k = blockDim.x / 2; k > 0; k >>= 1) { if (threadIdx.x < k) red[threadIdx.x] += red[threadIdx.x + k]; __syncthreads(); }
    float ri = 1.0f / sqrtf(red[0] / cols + eps);
    __syncthreads();
    for (int j = threadIdx.x; j < cols; j += blockDim.x) put(y, yh, r * cols + j, w[j] * (xr[j] * ri));
    if (threadIdx.x == 0 && rinv) rinv[r] = ri;
  }
}

/* RMSNorm backward, one block per row: g = w*dy, dx = r*g - x*r^3*mean(g*x) */
extern "C" __global__ void rms_norm_grad(const float *x, const float *w, const float *dy, const float *rinv, float *dx, i64 rows, int cols) {
  __shared__ float red[256];
  for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
    const float *xr = x + r * cols, *dyr = dy + r * cols; float *dxr = dx + r * cols;
    float s = 0.0f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) s += (w[j] * dyr[j]) * xr[j];
    red[threadIdx.x] = s; __syncthreads();
    for (int k = blockDim.x / 2; k > 0; k >>= 1) { if (threadIdx.x < k) red[threadIdx.x] += red[threadIdx.x + k]; __syncthreads(); }
    float dot = red[0] / cols, ri = rinv[r], c = ri * ri * ri * dot;
    __syncthreads();
    for (int j = threadIdx.x; j < cols; j += blockDim.x) dxr[j] = ri * (w[j] * dyr[j]) - xr[j] * c;
  }
}

/* Column sums of dy*x*r over row chunks: partial[k, c] = sum over rows of chunk k (then col_sum) */
extern "C" __global__ void rms_norm_dw_parts(const float *dy, const float *x, const float *rinv, float *partial, i64 rows, int cols, int chunks) {
  i64 per = (rows + chunks - 1) / chunks;
  for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (i64)chunks * cols; i += (i64)gridDim.x * blockDim.x) {
    int c = (int)(i % cols); i64 k = i / cols, r0 = k * per, r1 = min(rows, r0 + per);
    float acc = 0.0f;
    for (i64 r = r0; r < r1; r++) acc += dy[r * cols + c] * (x[r * cols + c] * rinv[r]);
    partial[i] = acc;
  }
}
/* y[c] = sum over k of partial[k, c]; added into y when accumulate != 0 */
extern "C" __global__ void col_sum(const float *partial, float *y, int chunks, int cols, int accumulate) {
  for (i64 c = (i64)blockIdx.x * blockDim.x + threadIdx.x; c < cols; c += (i64)gridDim.x * blockDim.x) {
    float acc = 0.0f; for (int k = 0; k < chunks; k++) acc += partial[(i64)k * cols + c]; y[c] = accumulate ? y[c] + acc : acc;
  }
}

/* [B*T, H*D] -> [B, H, T, D] (heads split), with RoPE (rotate_half form, tables cs/sn [T, D]) when rope != 0 */
extern "C" __global__ void rope_split(const float *x, const float *cs, const float *sn, float *y, int B, int T, int H, int D, int rope, unsigned short *yh) {
  i64 n = (i64)B * H * T * D; int half = D / 2;
  for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x) {
    int d = (int)(i % D); i64 r = i / D; int t = (int)(r % T); r /= T; int h = (int)(r % H); i64 b = r / H;
    const float *xr = x + ((b * T + t) * H + h) * D;
    float v = xr[d];
    if (rope) { float rot = d < half ? -xr[d + half] : xr[d - half]; v = __fadd_rn(__fmul_rn(v, cs[t * D + d]), __fmul_rn(rot, sn[t * D + d])); }
    put(y, yh, i, v);
  }
}

/* [B, H, T, D] -> [B*T, H*D] (heads merged), with the transpose of RoPE applied when rope != 0 (rope_split's gradient) */
extern "C" __global__ void rope_merge(const float *x, const float *cs, const float *sn, float *y, int B, int T, int H, int D, int rope, unsigned short *yh) {
  i64 n = (i64)B * H * T * D; int half = D / 2;
  for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x) {
    int d = (int)(i % D); i64 r = i / D; int h = (int)(r % H); r /= H; int t = (int)(r % T); i64 b = r / T;
    const float *xr = x + ((b * H + h) * T + t) * D;
    float v = xr[d];
    if (rope) {
      float rot = d < half ? __fmul_rn(xr[d + half], sn[t * D + d + half]) : -__fmul_rn(xr[d - half], sn[t * D + d - half]);
      v = __fadd_rn(__fmul_rn(v, cs[t * D + d]), rot);
    }
    put(y, yh, i, v);
  }
}

/* P = softmax(S*scale + mask) over the last axis, S [B, nh, T, Tk], mask [B, 1, T, Tk] additive; one warp per row */
extern "C" __global__ void masked_softmax(const float *s, const float *mask, float *p, i64 rows, int T, int Tk, int nh, float scale, unsigned short *ph) {
  int lane = threadIdx.x & 31, wpb = blockDim.x >> 5;
  for (i64 r = (i64)blockIdx.x * wpb + (threadIdx.x >> 5); r < rows; r += (i64)gridDim.x * wpb) {
    const float *sr = s + r * Tk;
    i64 b = r / ((i64)nh * T); int i = (int)(r % T);
    const float *mr = mask + (b * T + i) * Tk;
    float m = -INFINITY;
    for (int j = lane; j < Tk; j += 32) m = fmaxf(m, __fadd_rn(__fmul_rn(sr[j], scale), mr[j]));
    for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    float sum = 0.0f;
    for (int j = lane; j < Tk; j += 32) sum += expf(__fadd_rn(__fmul_rn(sr[j], scale), mr[j]) - m);
    for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    float inv = 1.0f / sum;
    for (int j = lane; j < Tk; j += 32) put(p, ph, r * Tk + j, expf(__fadd_rn(__fmul_rn(sr[j], scale), mr[j]) - m) * inv);
  }
}

/* dS = scale * P ⊙ (dP - rowsum(dP ⊙ P)), one warp per row */
extern "C" __global__ void masked_softmax_grad(const float *p, const float *dp, float *ds, i64 rows, int Tk, float scale, unsigned short *dsh) {
  int lane = threadIdx.x & 31, wpb = blockDim.x >> 5;
  for (i64 r = (i64)blockIdx.x * wpb + (threadIdx.x >> 5); r < rows; r += (i64)gridDim.x * wpb) {
    const float *pr = p + r * Tk, *dpr = dp + r * Tk;
    float dot = 0.0f;
    for (int j = lane; j < Tk; j += 32) dot += dpr[j] * pr[j];
    for (int o = 16; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
    for (int j = lane; j < Tk; j += 32) put(ds, dsh, r * Tk + j, pr[j] * (dpr[j] - dot) * scale);
  }
}

/* out[r, j] = sum over k in [starts[r], starts[r+1]) of x[order[k], j], in that order (a deterministic
   segment sum: order lists the rows of x by segment, ascending within each); with dest, the segment
   sum is added into row dest[r] of out instead (dest's rows are distinct) */
extern "C" __global__ void segment_rows_sum(const float *x, const int *order, const int *starts, float *out, int R, int H, const int *dest) {
  for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (i64)R * H; i += (i64)gridDim.x * blockDim.x) {
    int r = (int)(i / H), j = (int)(i % H);
    float acc = 0.0f;
    for (int k = starts[r]; k < starts[r + 1]; k++) acc += x[(i64)order[k] * H + j];
    if (dest) out[(i64)dest[r] * H + j] += acc; else out[i] = acc;
  }
}

/* out[i, :] = row ids[i] of an embedding table, held as bfloat16 halves (widened exactly) or, when
   halves is null, as float32 words */
extern "C" __global__ void embed_rows(const unsigned short *halves, const float *words, const int *ids, float *out, i64 n, int H) {
  for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n * H; i += (i64)gridDim.x * blockDim.x) {
    i64 src = (i64)ids[i / H] * H + i % H;
    out[i] = halves ? __int_as_float(((unsigned int)halves[src]) << 16) : words[src];
  }
}

/* y = a + c (same shapes; y may be a or c), and/or its bfloat16 copy yh */
extern "C" __global__ void add_same(const float *a, const float *c, float *y, i64 n, unsigned short *yh) {
  for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x) put(y, yh, i, a[i] + c[i]);
}

/* SwiGLU: y = silu(g) * u, silu(g) = g * sigmoid(g) */
extern "C" __global__ void swiglu(const float *g, const float *u, float *y, i64 n, unsigned short *yh) {
  for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x) {
    float x = g[i], sg = 1.0f / (1.0f + expf(-x));
    put(y, yh, i, __fmul_rn(__fmul_rn(x, sg), u[i]));
  }
}
/* its gradient: du = dy * silu(g), dg = dy * u * s * (1 + g * (1 - s)) */
extern "C" __global__ void swiglu_grad(const float *g, const float *u, const float *dy, float *dg, float *du, i64 n, unsigned short *dgh, unsigned short *duh) {
  for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x) {
    float x = g[i], sg = 1.0f / (1.0f + expf(-x)), d = dy[i];
    put(du, duh, i, d * (x * sg));
    put(dg, dgh, i, d * u[i] * sg * (1.0f + x * (1.0f - sg)));
  }
}

/* Running log-sum-exp over a vocabulary chunk z [N, C] (rows r0 .. r0+C of the head): m, s, zt [N] updated
   into m1, s1, zt1; targets [N] are global vocabulary rows (-1: none). One block per row. */
extern "C" __global__ void lse_chunk(const float *z, const float *m0, const float *s0, const float *zt0, const int *targets, int r0, float *m1, float *s1, float *zt1, i64 N, int C) {
  __shared__ float red[256];
  for (i64 n = blockIdx.x; n < N; n += gridDim.x) {
    const float *zr = z + n * C;
    float m = -INFINITY;
    for (int j = threadIdx.x; j < C; j += blockDim.x) m = fmaxf(m, zr[j]);
    red[threadIdx.x] = m; __syncthreads();
    for (int k = blockDim.x / 2; k > 0; k >>= 1) { if (threadIdx.x < k) red[threadIdx.x] = fmaxf(red[threadIdx.x], red[threadIdx.x + k]); __syncthreads(); }
    float mNew = fmaxf(m0[n], red[0]);
    __syncthreads();
    float s = 0.0f;
    for (int j = threadIdx.x; j < C; j += blockDim.x) s += expf(zr[j] - mNew);
    red[threadIdx.x] = s; __syncthreads();
    for (int k = blockDim.x / 2; k > 0; k >>= 1) { if (threadIdx.x < k) red[threadIdx.x] += red[threadIdx.x + k]; __syncthreads(); }
    if (threadIdx.x == 0) {
      int t = targets[n] - r0;
      m1[n] = mNew;
      s1[n] = s0[n] * expf(m0[n] - mNew) + red[0];
      zt1[n] = zt0[n] + ((targets[n] >= 0 && t >= 0 && t < C) ? zr[t] : 0.0f);
    }
    __syncthreads();
  }
}

/* dz = (exp(z - lse) - [r0 + j = target]) * scale, z [N, C] */
extern "C" __global__ void ce_chunk_grad(const float *z, const float *lse, const int *targets, int r0, const float *scale, float *dz, i64 N, int C) {
  for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < N * C; i += (i64)gridDim.x * blockDim.x) {
    i64 n = i / C; int j = (int)(i % C);
    float p = expf(z[i] - lse[n]);
    dz[i] = (p - (targets[n] >= 0 && targets[n] - r0 == j ? 1.0f : 0.0f)) * scale[n];
  }
}
`;
}

/** Names of the kernels the module exports (looked up after loading). */
export const KERNEL_NAMES = [
  'ew_unary',
  'ew_binary',
  'copy_view',
  'select3',
  'reduce_rows',
  'reduce_partials',
  'sum_parts',
  'softmax_rows',
  'gather_rows',
  'segment_sum',
  'one_hot',
  'f32_to_bf16',
  'halves_to_f32',
  'rms_norm',
  'rms_norm_grad',
  'rms_norm_dw_parts',
  'col_sum',
  'rope_split',
  'rope_merge',
  'masked_softmax',
  'masked_softmax_grad',
  'swiglu',
  'swiglu_grad',
  'add_same',
  'segment_rows_sum',
  'embed_rows',
  'lse_chunk',
  'ce_chunk_grad',
] as const;
export type KernelName = (typeof KERNEL_NAMES)[number];

/** Row-major strides of a shape, in elements. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/**
 * Strides with which a tensor of shape `inShape` is read at each index of the broadcast output
 * `outShape` (NumPy rules: leading dimensions added, size-1 dimensions read with stride 0).
 */
export function broadcastStrides(inShape: readonly number[], outShape: readonly number[]): number[] {
  const s = stridesOf(inShape);
  const off = outShape.length - inShape.length;
  return outShape.map((d, i) => {
    const j = i - off;
    if (j < 0) return 0;
    return inShape[j] === 1 && d !== 1 ? 0 : s[j];
  });
}

/**
 * Merges adjacent dimensions that are contiguous in every operand (and drops size-1 ones), so views
 * of any rank fit MAX_RANK where possible and kernels do less index arithmetic.
 */
export function simplifyView(shape: readonly number[], strides: ReadonlyArray<readonly number[]>): { shape: number[]; strides: number[][] } {
  const dims: number[] = [];
  const st: number[][] = strides.map(() => []);
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && strides.every((s, k) => st[k][last] === s[i] * shape[i])) {
      dims[last] *= shape[i];
      strides.forEach((s, k) => (st[k][last] = s[i]));
    } else {
      dims.push(shape[i]);
      strides.forEach((s, k) => st[k].push(s[i]));
    }
  }
  return { shape: dims, strides: st };
}

/** The `View` struct's bytes, as the kernels take it by value (little-endian, C layout). */
export function packView(shape: readonly number[], sx: readonly number[] = [], sy: readonly number[] = [], sz: readonly number[] = [], mod: readonly number[] = []): Buffer {
  if (shape.length > MAX_RANK) throw new Error(`view of rank ${shape.length} exceeds ${MAX_RANK}`);
  const b = Buffer.alloc(VIEW_BYTES);
  const n = shape.reduce((a, x) => a * x, 1);
  b.writeBigInt64LE(BigInt(n), 0);
  b.writeInt32LE(shape.length, 8);
  let o = 16;
  for (let i = 0; i < MAX_RANK; i++, o += 4) b.writeInt32LE(shape[i] ?? 1, o);
  for (let i = 0; i < MAX_RANK; i++, o += 4) b.writeInt32LE(mod[i] ?? 0, o);
  for (const s of [sx, sy, sz]) for (let i = 0; i < MAX_RANK; i++, o += 8) b.writeBigInt64LE(BigInt(s[i] ?? 0), o);
  return b;
}
