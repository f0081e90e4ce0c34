#!/usr/bin/env node
// @ts-check
/**
 * bench:attr — forward+backward tokens/s for gradient attribution on a mid-size Llama config
 * (hidden 1024, 8 layers, 16 query / 4 KV heads, FFN 2816, vocab 32000, untied head; ~155.7M
 * params), batch 4×128, with |w·g| accumulated over steps: `sil` on wasm with one worker thread per
 * core (data-parallel over examples) versus PyTorch on the CPU (Debian python3-torch with OpenBLAS,
 * installed with apt-get when missing; torch.set_num_threads = cores) in the same run.
 *
 *   npm run bench:attr -- [--layers N] [--steps N] [--threads N] [--workers N] [--blas auto|on|off|both] [--keep]
 *
 * `--blas` is sil's: its wasm matrix products through the system BLAS (auto: when found), or not
 * (off), or both one after the other (both), each against the same PyTorch run. `--workers` sil
 * worker threads (default: --threads); the BLAS gets cores / workers threads each. PyTorch runs with
 * `--threads` threads and, when sil sets OPENBLAS_CORETYPE for the CPU (src/blas/library.ts), with
 * the same value, so that both sides multiply with the same OpenBLAS kernels.
 *
 * The model is a random BF16 checkpoint written to a temporary folder; sil decodes it to float32.
 * Each side runs one untimed warm-up step, then --steps timed steps; tokens/s = B·T / mean step.
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { rng, writeModel } = require('./attr_model');
const { Checkpoint } = require('../dist/io/checkpoint');
const { GradWorkerPool } = require('../dist/model/parallel');
const { openblasCoretype } = require('../dist/blas');

const args = process.argv.slice(2);
const opt = (/** @type {string} */ name, /** @type {string} */ dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const layers = Number(opt('--layers', '8'));
const steps = Number(opt('--steps', '2'));
const threads = Number(opt('--threads', String(os.availableParallelism?.() ?? os.cpus().length)));
const keep = args.includes('--keep');
const workers = Number(opt('--workers', String(threads)));
const blasArg = opt('--blas', 'auto');
const blasRuns = blasArg === 'both' ? ['auto', 'off'] : [blasArg];
const B = 4,
  T = 128;
const { V, H, F, NH, NKV } = require('./attr_model');

/** A python3 that imports torch (Debian's python3-torch lives under /usr/bin/python3), installing it if missing. */
function torchPython() {
  const found = () => ['python3', '/usr/bin/python3'].find((py) => spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0);
  const blas = () => fs.existsSync('/usr/lib/x86_64-linux-gnu/openblas-pthread');
  let py = found();
  if (py && blas()) return py;
  console.log('installing python3-torch and libopenblas0-pthread with apt-get …');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const a of [['update'], ['install', '-y', 'python3-torch', 'libopenblas0-pthread']]) {
    const r = spawnSync('apt-get', a, { stdio: 'inherit', env });
    if (r.status !== 0) throw new Error(`apt-get ${a.join(' ')} failed`);
  }
  py = found();
  if (!py) throw new Error('python3-torch is installed but no python3 imports torch');
  return py;
}

async function benchSil(dir, blas) {
  const ckpt = Checkpoint.open(dir);
  const names = ckpt.names();
  const theta = new Map(names.map((n) => [n, ckpt.readF32(n)]));
  const acc = new Map(names.map((n) => [n, new Float32Array(theta.get(n).length)]));
  ckpt.close();
  const r = rng(777);
  const ids = Array.from({ length: B }, () => Array.from({ length: T }, () => Math.floor(r() * V)));
  const batch = { input_ids: ids, attention_mask: ids.map((row) => row.map(() => 1)), labels: ids };
  const pool = await GradWorkerPool.start(dir, Math.min(workers, B), 'wasm', { blas });
  // read while the pool runs: a closed pool has no workers left
  const nWorkers = pool.workers;
  console.log(`  sil: ${nWorkers} worker(s), matmul ${pool.matmulNote}`);
  const times = [];
  let loss = NaN;
  try {
    for (let s = 0; s <= steps; s++) {
      const t0 = performance.now();
      const res = await pool.lossAndGrads(batch);
      for (const [n, g] of res.grads) {
        const th = theta.get(n),
          a = acc.get(n);
        for (let i = 0; i < g.length; i++) a[i] += Math.abs(th[i] * g[i]);
      }
      loss = res.loss;
      if (s > 0) times.push((performance.now() - t0) / 1000);
      console.log(`  sil step ${s}${s === 0 ? ' (warm-up)' : ''}: ${((performance.now() - t0) / 1000).toFixed(2)} s, loss ${loss.toFixed(4)}`);
    }
  } finally {
    await pool.close();
  }
  const mean = times.reduce((x, y) => x + y, 0) / times.length;
  return { tokens_per_s: (B * T) / mean, step_s: times, workers: nWorkers, loss, matmul: pool.matmul };
}

const loadavg = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-bench-attr-'));
  try {
    const load0 = loadavg();
    const params = writeModel(dir, layers);
    console.log(
      `bench:attr — Llama ${layers} layers, hidden ${H}, ${NH}/${NKV} heads, ffn ${F}, vocab ${V}: ${(params / 1e6).toFixed(1)}M params; batch ${B}×${T}; ${steps} timed steps; ${threads} cores`,
    );
    const sils = [];
    for (const b of blasRuns) sils.push(await benchSil(dir, b));
    const python = torchPython();
    // the OpenBLAS kernel family sil chose for this CPU (set in this process's C environment), for PyTorch too
    const coretype = process.env.OPENBLAS_CORETYPE ?? openblasCoretype();
    const env = coretype ? { ...process.env, OPENBLAS_CORETYPE: coretype } : process.env;
    const py = spawnSync(python, [path.join(__dirname, 'attr_torch.py'), '--layers', String(layers), '--threads', String(threads), '--steps', String(steps)], { encoding: 'utf8', env });
    if (py.status !== 0) throw new Error(`PyTorch baseline failed:\n${py.stderr}`);
    const torch = JSON.parse(py.stdout.trim().split('\n').pop() ?? '{}');
    for (const sil of sils)
      console.log(`sil (wasm, ${sil.workers} worker threads, matmul ${sil.matmul}): ${sil.tokens_per_s.toFixed(1)} tokens/s  (steps ${sil.step_s.map((t) => t.toFixed(2)).join(', ')} s)`);
    console.log(
      `PyTorch ${torch.torch} CPU (${torch.threads} threads, BLAS ${torch.blas}${coretype ? `, OPENBLAS_CORETYPE=${coretype}` : ''}): ${torch.tokens_per_s.toFixed(1)} tokens/s  (steps ${torch.step_s.map((t) => t.toFixed(2)).join(', ')} s, ${(torch.params / 1e6).toFixed(1)}M params)`,
    );
    for (const sil of sils) console.log(`ratio sil (matmul ${sil.matmul}) / PyTorch: ${(sil.tokens_per_s / torch.tokens_per_s).toFixed(2)}×`);
    console.log(`load average: ${load0} at the start, ${loadavg()} at the end (${os.cpus().length} cores)`);
  } finally {
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
