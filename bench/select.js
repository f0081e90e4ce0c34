#!/usr/bin/env node
// @ts-check
/**
 * bench:select — global exact top-20% over 8.03e9 streamed float32 scores (an 8B model's parameter
 * count), generated on the fly in chunks by a counter-based xorshift PRNG (never stored), run
 * through `GlobalTopK` (dist/select/topk.js): pass 1 (top-16-bit histogram), pass 2 (low-16-bit
 * histogram of the boundary bin) → exact threshold, count_gt, count_eq.
 *
 *   npm run bench:select -- [--n 8.03e9] [--frac 0.2] [--fraction 1] [--chunk 4194304] [--emit]
 *
 * `--fraction f` streams only f·N scores and extrapolates times linearly to N (the work per score
 * is constant). Scores are log-uniform over 32 octaves (bit patterns 0x30000000 + 28 random bits),
 * so the boundary bin holds ≈ N/4096 of them. `--emit` adds the mask-emission pass (the tie rule
 * applied to the same stream) and checks that exactly k are selected. Generating the stream is
 * timed on its own, so the selector's share is reported separately. Extra RAM: RSS growth over the
 * process's baseline, and the selector's own arrays.
 */
const { GlobalTopK, MaskEmitter } = require('../dist/select/topk');

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const N = Number(opt('--n', '8.03e9'));
const frac = Number(opt('--frac', '0.2'));
const fraction = Number(opt('--fraction', '1'));
const chunk = Number(opt('--chunk', String(1 << 22)));
const emit = args.includes('--emit');
const n = Math.round(N * fraction);
const nChunks = Math.ceil(n / chunk);
const k = Math.round(frac * n);

const buf = new Float32Array(chunk);
const bits = new Uint32Array(buf.buffer);

/** Fills chunk c of the stream: xorshift32 seeded by a hash of c, so every pass sees the same scores. */
function fill(c) {
  const len = Math.min(chunk, n - c * chunk);
  let x = (Math.imul(c + 1, 0x9e3779b1) ^ 0x85ebca6b) >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bits[i] = 0x30000000 + ((x >>> 4) & 0x0fffffff);
  }
  return len === chunk ? buf : buf.subarray(0, len);
}

function time(label, f) {
  const t0 = process.hrtime.bigint();
  const r = f();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return { label, s, r };
}

const rss0 = process.memoryUsage().rss;
let peak = rss0;
const sample = () => {
  peak = Math.max(peak, process.memoryUsage().rss);
};

const gen = time('generate only', () => {
  let acc = 0;
  for (let c = 0; c < nChunks; c++) acc += fill(c)[0];
  return acc;
});
const sel = new GlobalTopK(k);
const p1 = time('pass 1 (generate + histogram)', () => {
  for (let c = 0; c < nChunks; c++) {
    sel.pass1(fill(c));
    if (c % 64 === 0) sample();
  }
  return sel.endPass1();
});
const p2 = time('pass 2 (generate + boundary histogram)', () => {
  for (let c = 0; c < nChunks; c++) {
    sel.pass2(fill(c));
    if (c % 64 === 0) sample();
  }
  return sel.endPass2();
});
const th = p2.r;
const rows = [gen, p1, p2];
if (emit) {
  const out = new Uint8Array(chunk);
  const em = new MaskEmitter(th);
  const pe = time('emit (generate + tie rule → mask)', () => {
    for (let c = 0; c < nChunks; c++) em.emit(fill(c), out.subarray(0, Math.min(chunk, n - c * chunk)));
    return em.count;
  });
  rows.push(pe);
  if (pe.r !== k) throw new Error(`emitted ${pe.r}, expected k = ${k}`);
}
sample();

const scale = N / n;
const fmt = (s) => `${s.toFixed(1)} s`;
console.log(
  `bench:select  N = ${N.toExponential(3)}, k = round(${frac}·N)${fraction !== 1 ? `, streamed ${n.toExponential(3)} (${fraction} of N) and extrapolated ×${scale.toFixed(2)}` : ''}, chunk ${chunk}`,
);
console.log(`threshold ${th.value} (bits 0x${th.bits.toString(16)}), k = ${th.k}, count_gt = ${th.countGt}, count_eq = ${th.countEq}${emit ? ', emitted exactly k' : ''}`);
for (const r of rows) {
  const sel = r === gen ? '' : `, selector alone ≈ ${fmt((r.s - gen.s) * scale)} (${(n / Math.max(r.s - gen.s, 1e-9) / 1e9).toFixed(2)} G scores/s)`;
  console.log(`  ${r.label.padEnd(42)} ${fmt(r.s)} measured → ${fmt(r.s * scale)} at N${sel}`);
}
console.log(`passes to the exact threshold: 2; total at N (passes 1+2, generation included): ${fmt((p1.s + p2.s) * scale)}`);
console.log(
  `extra RAM: selector 2×65536 float64 + 65536 uint32 = ${((2 * 65536 * 8 + 65536 * 4) / 2 ** 20).toFixed(2)} MiB; chunk buffer ${((chunk * 4) / 2 ** 20).toFixed(0)} MiB; RSS growth ${((peak - rss0) / 2 ** 20).toFixed(1)} MiB (peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB)`,
);
