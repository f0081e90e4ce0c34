#!/usr/bin/env node
// @ts-check
/**
 * bench:delta — throughput of `sil delta` on two Llama-3.1-8B-shaped BF16 checkpoints
 * (vocab 128256, hidden 4096, 32 layers, 32 query / 8 KV heads, FFN 14336, untied head; the real
 * tensor names and shapes; random values; ~5 GB shards), against a memory-mapped numpy baseline
 * (per-tensor L2 of the difference) on the same files.
 *
 *   npm run bench:delta -- [--layers N] [--threads N] [--dir DIR] [--keep]
 *
 * Prints GB/s per checkpoint (bytes of one checkpoint / wall seconds) for both, their ratio, and
 * sil's peak RSS (GNU time's maximum resident set size of the `sil delta` process, workers included).
 * Both runs read from a warm page cache when the files fit in memory.
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ShardedWriter } = require('../dist/io/writer');
const { cliOptions, llamaConfig, llamaShapes } = require('./llama');

const { opt, flag } = cliOptions();
const layers = Number(opt('--layers', '32'));
const threads = opt('--threads', '');
const root = fs.mkdtempSync(path.join(opt('--dir', os.tmpdir()), 'sil-bench-delta-'));
const keep = flag('--keep');

/** Llama-3.1-8B's sizes. */
const dims = { L: layers, H: 4096, F: 14336, V: 128256, heads: 32, kv: 8, D: 128 };
/** @type {Array<{name: string, dtype: 'BF16', shape: number[]}>} */
const specs = llamaShapes(dims, false).map(([name, shape]) => ({ name, dtype: 'BF16', shape }));
const config = llamaConfig(dims, { maxPositions: 131072, ropeScaling: null, bos: 128000, eos: 128001 });

/**
 * Writes base and attacked together, chunk by chunk: base words are random bf16 pairs of magnitude
 * 2⁻⁹…2⁻⁷ with random signs; attacked flips the two lowest mantissa bits at random (xorshift128).
 */
function writePair() {
  const CH = 1 << 24;
  const wa = new Uint32Array(CH / 2),
    wb = new Uint32Array(CH / 2);
  let x = 123456789,
    y = 362436069,
    z = 521288629,
    w = 88675123;
  const writers = ['base', 'attacked'].map((sub) => {
    const dir = path.join(root, sub);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
    return new ShardedWriter(dir, specs, { maxShardSize: '5GB' });
  });
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    for (let start = 0; start < n; start += CH) {
      const m = Math.min(CH, n - start) / 2;
      for (let i = 0; i < m; i++) {
        // xorshift128, two steps inlined: r for the base word, q for the attacked bit flips
        let t = x ^ (x << 11);
        x = y;
        y = z;
        z = w;
        w = (w ^ (w >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
        const r = w;
        t = x ^ (x << 11);
        x = y;
        y = z;
        z = w;
        w = (w ^ (w >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
        // exponent 0x76..0x77 (magnitudes 2⁻⁹…2⁻⁷), random sign and mantissa, for both halves
        const v = (r & 0x80ff80ff) | 0x3b003b00 | ((r >>> 8) & 0x01800180);
        wa[i] = v;
        wb[i] = v ^ (w & 0x00030003);
      }
      writers[0].writeAt(s.name, start, new Uint16Array(wa.buffer, 0, 2 * m));
      writers[1].writeAt(s.name, start, new Uint16Array(wb.buffer, 0, 2 * m));
    }
  }
  for (const w of writers) w.close();
}

function gb(bytes) {
  return (bytes / 1e9).toFixed(2);
}

function main() {
  const t0 = Date.now();
  writePair();
  const bytes = specs.reduce((a, s) => a + 2 * s.shape.reduce((p, q) => p * q, 1), 0);
  const params = bytes / 2;
  const shards = fs.readdirSync(path.join(root, 'base')).filter((f) => f.endsWith('.safetensors')).length;
  console.log(
    `bench:delta  Llama-3.1-8B-shaped BF16, ${layers} layers, ${(params / 1e9).toFixed(2)} B params, ${gb(bytes)} GB per checkpoint in ${shards} shard(s); written in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  console.log(`machine: ${os.cpus().length} cores (${os.cpus()[0].model}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.versions.node}`);

  const main = path.resolve(__dirname, '../dist/cli/main.js');
  /** Runs `sil delta` under GNU time: wall seconds, peak RSS (KiB), the JSON summary. */
  const runSil = (kernel) => {
    const silArgs = [main, 'delta', '--base', path.join(root, 'base'), '--attacked', path.join(root, 'attacked'), '--out', path.join(root, 'out-' + kernel), '--force', '--json', '--kernel', kernel];
    if (threads !== '') silArgs.push('--threads', threads);
    const t1 = process.hrtime.bigint();
    const r = spawnSync('/usr/bin/time', ['-f', 'MAXRSS_KB=%M', process.execPath, ...silArgs], { encoding: 'utf8', maxBuffer: 1 << 26 });
    const sec = Number(process.hrtime.bigint() - t1) / 1e9;
    if (r.status !== 0) throw new Error(`sil delta failed: ${r.stderr}`);
    return { sec, rssKb: Number(/MAXRSS_KB=(\d+)/.exec(r.stderr)?.[1]), summary: JSON.parse(r.stdout) };
  };
  const { sec: silSec, rssKb, summary } = runSil('simd');
  const js = runSil('js');
  if (js.summary.totals.changed !== summary.totals.changed || Math.abs(js.summary.totals.l2 / summary.totals.l2 - 1) > 1e-12) throw new Error('the simd and js kernels disagree');

  const t2 = process.hrtime.bigint();
  const np = spawnSync('python3', [path.join(__dirname, 'delta_numpy.py'), path.join(root, 'base'), path.join(root, 'attacked')], { encoding: 'utf8' });
  const npSec = Number(process.hrtime.bigint() - t2) / 1e9;
  if (np.status !== 0) throw new Error(`numpy baseline failed: ${np.stderr}`);
  const npOut = JSON.parse(np.stdout);
  if (npOut.bytes_per_checkpoint !== bytes || npOut.n_tensors !== summary.n_tensors) throw new Error('numpy baseline read different tensors');

  const silGbs = bytes / 1e9 / silSec;
  const npGbs = bytes / 1e9 / npSec;
  console.log(`sil delta   ${silSec.toFixed(2)} s  ${silGbs.toFixed(2)} GB/s per checkpoint  (WASM SIMD kernel, threads ${summary.options.threads}; peak RSS ${(rssKb / 1024).toFixed(0)} MiB)`);
  console.log(`  --kernel js ${js.sec.toFixed(2)} s  ${(bytes / 1e9 / js.sec).toFixed(2)} GB/s per checkpoint  (plain JS loop; peak RSS ${(js.rssKb / 1024).toFixed(0)} MiB)`);
  console.log(`numpy       ${npSec.toFixed(2)} s  ${npGbs.toFixed(2)} GB/s per checkpoint  (1 thread, memory-mapped, 16 Mi-element chunks)`);
  console.log(`ratio       sil / numpy = ${(silGbs / npGbs).toFixed(2)}x`);
  const load = os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
  console.log(`load avg    ${load} (1/5/15 min, at the end)`);
  console.log(`check       total ‖Δ‖₂ ${summary.totals.l2.toPrecision(6)}, changed ${(100 * summary.totals.frac_changed).toFixed(1)}% of ${summary.totals.numel} params`);
}

try {
  main();
} finally {
  if (!keep) fs.rmSync(root, { recursive: true, force: true });
  else console.log(`kept ${root}`);
}
