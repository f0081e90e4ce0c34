/**
 * Per-tensor statistics of the weight difference Δ = attacked − base, accumulated in float64 over
 * element ranges so a tensor of any size can be streamed through in bounded chunks.
 *
 * For the finite element pairs of a tensor:
 *   L1 = Σ|Δᵢ|,  L2 = ‖Δ‖₂ = √(ΣΔᵢ²),  max|Δ| = maxᵢ|Δᵢ|,  mean|Δ| = L1 / n_finite,
 *   rel_l2 = ‖Δ‖₂ / ‖W_base‖₂,  frac_changed = #{Δᵢ ≠ 0} / n_finite.
 * A pair where either weight is NaN is counted in `nan`, one where either is ±Inf (and none is NaN)
 * in `inf`; such pairs are excluded from every other statistic, so one bad weight does not turn a
 * tensor's numbers into NaN.
 *
 * The fast kernels skip the per-element finiteness tests: a NaN or Inf anywhere makes the chunk's
 * L1 or ‖W‖² non-finite, and only then is the chunk redone by the careful reference loop.
 */

/** Running sums for one tensor (or a range of one); combine with {@link mergeAccum}. */
export interface DeltaAccum {
  numel: number;
  /** pairs where both weights are finite */
  finite: number;
  l1: number;
  l2sq: number;
  /** ‖W_base‖² over the finite pairs */
  w2sq: number;
  maxAbs: number;
  changed: number;
  nan: number;
  inf: number;
}

/** Finalised statistics (snake_case: these are the CSV/JSON column names). */
export interface DeltaStats {
  numel: number;
  l1: number;
  l2: number;
  max_abs: number;
  mean_abs: number;
  rel_l2: number;
  frac_changed: number;
  changed: number;
  weight_l2: number;
  nan: number;
  inf: number;
}

export function newAccum(): DeltaAccum {
  return { numel: 0, finite: 0, l1: 0, l2sq: 0, w2sq: 0, maxAbs: 0, changed: 0, nan: 0, inf: 0 };
}

export function mergeAccum(into: DeltaAccum, a: DeltaAccum): DeltaAccum {
  into.numel += a.numel;
  into.finite += a.finite;
  into.l1 += a.l1;
  into.l2sq += a.l2sq;
  into.w2sq += a.w2sq;
  if (a.maxAbs > into.maxAbs) into.maxAbs = a.maxAbs;
  into.changed += a.changed;
  into.nan += a.nan;
  into.inf += a.inf;
  return into;
}

/** rel_l2 is 0 when nothing changed, +Inf when a zero base weight changed. */
export function finalize(a: DeltaAccum): DeltaStats {
  const l2 = Math.sqrt(a.l2sq);
  const wl2 = Math.sqrt(a.w2sq);
  return {
    numel: a.numel,
    l1: a.l1,
    l2,
    max_abs: a.maxAbs,
    mean_abs: a.finite > 0 ? a.l1 / a.finite : 0,
    rel_l2: wl2 > 0 ? l2 / wl2 : l2 === 0 ? 0 : Infinity,
    frac_changed: a.finite > 0 ? a.changed / a.finite : 0,
    changed: a.changed,
    weight_l2: wl2,
    nan: a.nan,
    inf: a.inf,
  };
}

/**
 * Reference loop over decoded values: one element at a time, every test explicit. `abs`, when
 * given, receives |Δᵢ| (NaN/±Inf as float32 computes them).
 */
export function accumulateReference(base: ArrayLike<number>, attacked: ArrayLike<number>, n: number, acc: DeltaAccum, abs?: Float32Array): DeltaAccum {
  for (let i = 0; i < n; i++) {
    const w = base[i];
    const x = attacked[i];
    const d = x - w;
    const e = Math.abs(d);
    if (abs) abs[i] = e;
    acc.numel++;
    if (Number.isNaN(w) || Number.isNaN(x)) {
      acc.nan++;
      continue;
    }
    if (!Number.isFinite(w) || !Number.isFinite(x)) {
      acc.inf++;
      continue;
    }
    acc.finite++;
    acc.l1 += e;
    acc.l2sq += d * d;
    acc.w2sq += w * w;
    if (e > acc.maxAbs) acc.maxAbs = e;
    if (d !== 0) acc.changed++;
  }
  return acc;
}

/** Fast loop over decoded values (Float32Array for F32/F16, Float64Array for F64 and integers). */
export function accumulateValues(base: Float32Array | Float64Array, attacked: Float32Array | Float64Array, n: number, acc: DeltaAccum, abs?: Float32Array): DeltaAccum {
  let l1 = 0,
    l2 = 0,
    w2 = 0,
    mx = 0,
    ch = 0;
  for (let i = 0; i < n; i++) {
    const w = base[i];
    const d = attacked[i] - w;
    const e = Math.abs(d);
    l1 += e;
    l2 += d * d;
    w2 += w * w;
    if (e > mx) mx = e;
    if (d !== 0) ch++;
  }
  if (!Number.isFinite(l1) || !Number.isFinite(w2)) return accumulateReference(base, attacked, n, acc, abs);
  if (abs) for (let i = 0; i < n; i++) abs[i] = Math.abs(attacked[i] - base[i]);
  return addChunk(acc, n, l1, l2, w2, mx, ch);
}

function addChunk(acc: DeltaAccum, n: number, l1: number, l2: number, w2: number, mx: number, ch: number): DeltaAccum {
  acc.numel += n;
  acc.finite += n;
  acc.l1 += l1;
  acc.l2sq += l2;
  acc.w2sq += w2;
  if (mx > acc.maxAbs) acc.maxAbs = mx;
  acc.changed += ch;
  return acc;
}

const scratchF = new Float32Array(4);
const scratchU = new Uint32Array(scratchF.buffer);

/**
 * BF16 kernel, fused decode + statistics: each u32 word holds two bf16 (little-endian: the low
 * half is the even element), `lo = w << 16`, `hi = w & 0xffff0000` are their float32 bit patterns,
 * reinterpreted through a 4-float scratch. `base`/`attacked` must start 4-byte aligned.
 */
export function accumulateBf16(base: Uint16Array, attacked: Uint16Array, n: number, acc: DeltaAccum, abs?: Float32Array): DeltaAccum {
  if (base.byteOffset % 4 !== 0 || attacked.byteOffset % 4 !== 0) {
    return accumulateValues(bf16ToF32(base, n), bf16ToF32(attacked, n), n, acc, abs);
  }
  const m = n >>> 1;
  const wa = new Uint32Array(base.buffer, base.byteOffset, m);
  const wb = new Uint32Array(attacked.buffer, attacked.byteOffset, m);
  const sf = scratchF;
  const su = scratchU;
  let l1 = 0,
    l2 = 0,
    w2 = 0,
    mx = 0,
    ch = 0;
  for (let i = 0; i < m; i++) {
    const x = wa[i];
    const y = wb[i];
    su[0] = x << 16;
    su[1] = x & 0xffff0000;
    su[2] = y << 16;
    su[3] = y & 0xffff0000;
    const a0 = sf[0],
      a1 = sf[1];
    const d0 = sf[2] - a0;
    const d1 = sf[3] - a1;
    const e0 = Math.abs(d0);
    const e1 = Math.abs(d1);
    l1 += e0 + e1;
    l2 += d0 * d0 + d1 * d1;
    w2 += a0 * a0 + a1 * a1;
    if (e0 > mx) mx = e0;
    if (e1 > mx) mx = e1;
    if (x !== y) ch += (d0 !== 0 ? 1 : 0) + (d1 !== 0 ? 1 : 0);
    if (abs) {
      abs[2 * i] = e0;
      abs[2 * i + 1] = e1;
    }
  }
  if (n & 1) {
    su[0] = base[n - 1] << 16;
    su[1] = attacked[n - 1] << 16;
    const a = sf[0];
    const d = sf[1] - a;
    const e = Math.abs(d);
    l1 += e;
    l2 += d * d;
    w2 += a * a;
    if (e > mx) mx = e;
    if (d !== 0) ch++;
    if (abs) abs[n - 1] = e;
  }
  if (!Number.isFinite(l1) || !Number.isFinite(w2)) {
    return accumulateReference(bf16ToF32(base, n), bf16ToF32(attacked, n), n, acc, abs);
  }
  return addChunk(acc, n, l1, l2, w2, mx, ch);
}

function bf16ToF32(src: Uint16Array, n: number): Float32Array {
  const out = new Float32Array(n);
  const o = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) o[i] = src[i] << 16;
  return out;
}
