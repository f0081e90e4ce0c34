#!/usr/bin/env node
// @ts-check
/**
 * bench:profile — where a gradient step's time goes: the bench:attr model (random BF16 Llama, hidden
 * 1024, 16/4 heads, FFN 2816, vocab 32000) in this process, one backend instance, every TF.js
 * kernel timed (a shim around each registered kernel of the backend; the wasm backend runs
 * synchronously, so a kernel's wall time is its cost). Prints the kernels by total time, the share
 * of the matrix products, and tokens/s.
 *
 *   npm run bench:profile -- [--layers 2] [--seqs 2] [--steps 2] [--backend wasm] [--blas auto|on|off]
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const tf = require('@tensorflow/tfjs');
const { rng, writeModel, V } = require('./attr_model');
const { Checkpoint } = require('../dist/io/checkpoint');
const { CausalLM } = require('../dist/model/model');
const { useBackend } = require('../dist/model/backend');
const { blasCounters } = require('../dist/blas');

const args = process.argv.slice(2);
const opt = (/** @type {string} */ name, /** @type {string} */ dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const layers = Number(opt('--layers', '2'));
const seqs = Number(opt('--seqs', '2'));
const steps = Number(opt('--steps', '2'));
const backendName = opt('--backend', 'wasm');
const blas = /** @type {'auto'|'on'|'off'} */ (opt('--blas', 'auto'));
const T = 128;

/** @type {Map<string, {ms: number, calls: number}>} */
const times = new Map();
let timing = false;

/** Wraps every kernel registered for the backend with a timer. */
function shim(backend) {
  for (const k of tf.getKernelsForBackend(backend)) {
    const inner = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, backend);
    tf.registerKernel({
      ...k,
      kernelFunc: (a) => {
        if (!timing) return inner(a);
        const t0 = performance.now();
        const out = inner(a);
        const e = times.get(k.kernelName) ?? { ms: 0, calls: 0 };
        e.ms += performance.now() - t0;
        e.calls++;
        times.set(k.kernelName, e);
        return out;
      },
    });
  }
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-bench-profile-'));
  try {
    const params = writeModel(dir, layers);
    const selected = await useBackend(/** @type {any} */ (backendName), { blas });
    shim(selected.name);
    console.log(`bench:profile — ${layers} layers, ${(params / 1e6).toFixed(1)}M params, ${seqs}×${T} tokens per step, ${selected.name}, matmul ${selected.matmulNote}`);
    const ckpt = Checkpoint.open(dir);
    const model = CausalLM.fromCheckpoint(ckpt);
    ckpt.close();
    const r = rng(777);
    const ids = Array.from({ length: seqs }, () => Array.from({ length: T }, () => Math.floor(r() * V)));
    const batch = { input_ids: ids, attention_mask: ids.map((row) => row.map(() => 1)), labels: ids };
    model.lossAndGrads(batch); // warm-up
    timing = true;
    const flops0 = blasCounters.flops;
    const t0 = performance.now();
    for (let s = 0; s < steps; s++) model.lossAndGrads(batch);
    const wall = performance.now() - t0;
    timing = false;
    model.dispose();
    const total = [...times.values()].reduce((a, e) => a + e.ms, 0);
    const rows = [...times].sort((a, b) => b[1].ms - a[1].ms);
    console.log(
      `step ${(wall / steps / 1000).toFixed(2)} s, ${((seqs * T * steps) / (wall / 1000)).toFixed(1)} tokens/s; kernels ${(total / steps / 1000).toFixed(2)} s per step (the rest: JS, tape, reads)`,
    );
    const mm = ['BatchMatMul', '_FusedMatMul'].reduce((a, n) => a + (times.get(n)?.ms ?? 0), 0);
    if (blasCounters.flops > flops0) console.log(`BLAS: ${((blasCounters.flops - flops0) / (mm / 1000) / 1e9).toFixed(1)} GFLOP/s in the products`);
    console.log(`matrix products: ${((100 * mm) / total).toFixed(1)} % of kernel time`);
    for (const [name, e] of rows.slice(0, 25))
      console.log(`  ${name.padEnd(22)} ${(e.ms / steps).toFixed(0).padStart(7)} ms/step  ${((100 * e.ms) / total).toFixed(1).padStart(5)} %  ${(e.calls / steps).toFixed(0).padStart(6)} calls/step`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
