#!/usr/bin/env node
// @ts-check
/**
 * bench:scale — `sil grad` with layer streaming on a Llama-3.1-8B-shaped random BF16 checkpoint:
 * 16 sequences × 128 tokens, every position labelled; peak RSS of the `sil` process and tokens/s.
 *
 *   npm run bench:scale -- [--layers 32] [--seqs 16] [--tokens 128] [--backend auto]
 *                          [--weight-cache 0] [--blas auto|on|off] [--dir DIR] [--keep] [--snip] [--profile] [--no-write]
 *
 * Names and shapes are Llama-3.1-8B's (hidden 4096, 32/8 heads of 128, FFN 14336, vocab 128256,
 * untied head); `--layers N` keeps the first N decoder layers for quick runs. The checkpoint is
 * written with the ShardedWriter (5 GB shards) into a temp folder (or `--dir`, reused when it
 * already holds one); its values are a tiled block of seeded uniforms in ±0.02. The gradient file
 * (float32, 2× the checkpoint) is deleted after the run unless `--keep`.
 * `--no-write` runs the same streamed pass in process with a sink that drops each gradient once it
 * has been read back to the host (what the pass costs without writing 4 bytes per parameter).
 * `--passes R` (with `--no-write`) runs R passes over the batch the way `sil locate` accumulates on a
 * GPU: weights uploaded once (shared between passes), gradient sums kept on the backend and read back
 * once at the end; it reports the first pass (with the upload), the mean of the others (steady
 * state) and the final read-back.
 * Prints one JSON line with the measurements. Runs the built CLI (`npm run build` first).
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ShardedWriter } = require('../dist/io/writer');
const { cliOptions, llamaConfig, llamaShapes, paramCount } = require('./llama');

const { opt, flag } = cliOptions();
const L = Number(opt('--layers', '32'));
const B = Number(opt('--seqs', '16'));
const T = Number(opt('--tokens', '128'));
const backend = opt('--backend', 'auto');
const cache = opt('--weight-cache', '0');
const blas = opt('--blas', 'auto');
const keep = flag('--keep');
const passes = Number(opt('--passes', '1'));
// --hidden / --ffn / --heads / --kv-heads / --head-dim / --vocab: another Llama shape (e.g. Llama-3.2-1B's
// layers: --layers 16 --hidden 2048 --ffn 8192 --heads 32 --kv-heads 8 --head-dim 64)
const H = Number(opt('--hidden', '4096')),
  F = Number(opt('--ffn', '14336')),
  V = Number(opt('--vocab', '128256')),
  heads = Number(opt('--heads', '32')),
  kv = Number(opt('--kv-heads', '8')),
  D = Number(opt('--head-dim', String(H / heads)));

const dir = opt('--dir', '') || fs.mkdtempSync(path.join(os.tmpdir(), 'sil-bench-scale-'));
const dims = { L, H, F, V, heads, kv, D };
const cfg = llamaConfig(dims, {
  maxPositions: 131072,
  ropeScaling: { factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  bos: 128000,
  eos: 128001,
});
const shapes = llamaShapes(dims, true);
const nParams = paramCount(shapes);

/** 2^24 seeded BF16 uniforms in ±0.02 (xorshift32), tiled over every tensor at a per-tensor offset. */
function randomBlock() {
  const n = 1 << 24;
  const out = new Uint16Array(n);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  let x = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    f[0] = ((x / 4294967296) * 2 - 1) * 0.02;
    out[i] = (u[0] + 0x7fff + ((u[0] >>> 16) & 1)) >>> 16;
  }
  return out;
}

function writeCheckpoint() {
  if (fs.existsSync(path.join(dir, 'config.json'))) {
    const have = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    if (have.num_hidden_layers === L && have.hidden_size === H && have.intermediate_size === F && have.vocab_size === V) return 0;
    for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f));
  }
  const t0 = Date.now();
  const block = randomBlock();
  const ones = new Uint16Array(H).fill(0x3f80); // 1.0 for the norms
  const w = new ShardedWriter(
    dir,
    shapes.map(([name, shape]) => ({ name, dtype: 'BF16', shape })),
    { maxShardSize: '5GB' },
  );
  shapes.forEach(([name, shape], k) => {
    const n = shape.reduce((x, y) => x * y, 1);
    if (shape.length === 1) return w.write(name, ones);
    let off = (k * 7919 * 4099) % block.length;
    for (let done = 0; done < n;) {
      const m = Math.min(n - done, block.length - off);
      w.write(name, block.subarray(off, off + m));
      done += m;
      off = 0;
    }
  });
  w.close();
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg, null, 2));
  return (Date.now() - t0) / 1000;
}

function batch() {
  let x = 12345;
  const ids = [];
  for (let b = 0; b < B; b++) {
    const row = [];
    for (let t = 0; t < T; t++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      row.push(x % V);
    }
    ids.push(row);
  }
  const file = path.join(dir, 'batch.json');
  fs.writeFileSync(file, JSON.stringify({ input_ids: ids, attention_mask: ids.map((r) => r.map(() => 1)), labels: ids }));
  return file;
}

const makeSeconds = writeCheckpoint();
const batchFile = batch();
// beside the model folder: sil never writes into one of its inputs
const out = `${dir.replace(/\/+$/, '')}.grads.safetensors`;
const cli = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
const argv = [cli, 'grad', '--model', dir, '--batch', batchFile, '--out', out, '--backend', backend, '--stream', 'always', '--weight-cache', cache, '--blas', blas, '--force', '--json'];
if (flag('--snip')) argv.push('--snip');
if (flag('--profile')) argv.push('--profile');
const noWrite = `
  const { Checkpoint } = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'io/checkpoint'))});
  const { useBackend } = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'model/backend'))});
  const { parseModelConfig } = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'model/config'))});
  const { streamedGradients } = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'stream/engine'))});
  const { parseSize } = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'io/writer'))});
  const { StreamWeights } = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'stream/weights'))});
  const { GradSums } = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'stream/sums'))});
  const { bindingBytes, cudaWeightStorage, deviceBudget, modelParamCount } = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'model/planner'))});
  (async () => {
    const t0 = Date.now();
    const b = await useBackend(${JSON.stringify(backend)}, { blas: ${JSON.stringify(blas)} });
    const ck = Checkpoint.open(${JSON.stringify(dir)});
    const cfg = parseModelConfig(ck.config, 'config.json');
    const batch = JSON.parse(require('fs').readFileSync(${JSON.stringify(batchFile)}, 'utf8'));
    // boundaries where sil grad / sil locate keep them: on the GPU for the GPU backends
    // and, as sil grad / sil locate plan it on cuda, the weights' resident size and the device budget
    // (what it leaves beside the sums keeps layers' forward state for the backward pass)
    const base = { boundaries: b.name === 'webgpu' || b.name === 'cuda' ? 'device' : 'host', maxBindingBytes: bindingBytes(b.name),
      weightStorage: cudaWeightStorage(b.name, ck.info('model.layers.0.self_attn.q_proj.weight').dtype) };
    const R = ${passes};
    if (R === 1) {
      const r = await streamedGradients(cfg, ck, batch, () => undefined, { ...base, deviceBudgetBytes: deviceBudget(b.name).bytes,
        weightCacheBytes: ${JSON.stringify(cache)} === '0' ? 0 : parseSize(${JSON.stringify(cache)}) });
      const s = { backend: b.name, matmul: b.matmul, loss: r.loss, grad_seconds: r.forwardSeconds + r.backwardSeconds, write_seconds: 0,
        peak_rss_bytes: process.resourceUsage().maxRSS * 1024, seconds: (Date.now() - t0) / 1000 };
      process.stdout.write(JSON.stringify(s));
      return;
    }
    const weights = new StreamWeights(cfg, ck);
    const sums = new GradSums(['grad']);
    const times = [];
    let loss = 0;
    let keptLayers = 0;
    for (let p = 0; p < R; p++) {
      const t = Date.now();
      const r = await streamedGradients(cfg, ck, batch, (n, st, g) => sums.addHost(n, st, g), { ...base, weights,
        weightCacheBytes: modelParamCount(cfg) * 4, embeddingOnDevice: true, deviceSink: (n, st, g) => sums.addTensor(n, st, g), deviceSums: (n) => sums.inPlace(n), onPlan: (p) => { keptLayers = p.keptLayers; },
        deviceBudgetBytes: deviceBudget(b.name).bytes - modelParamCount(cfg) * 4,
        rowSink: (n, rows, g) => sums.addRows(n, ck.info(n).shape.reduce((a, x) => a * x, 1), rows, g),
        deviceRowSums: (n) => sums.rowsInPlace(n, ck.info(n).shape.reduce((a, x) => a * x, 1)) });
      loss = r.loss;
      times.push((Date.now() - t) / 1000);
      // SIL_CUDA_PROFILE=1: the kernel table covers the steady passes only
      if (p === 0 && b.name === 'cuda') require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'cuda/ops'))}).resetKernelProfile();
    }
    const tr = Date.now();
    let checksum = 0;
    await sums.drain(ck.names(), (f, n, st, d) => { checksum += d[0]; });
    const readback = (Date.now() - tr) / 1000;
    weights.dispose();
    const steady = times.slice(1).reduce((a, x) => a + x, 0) / (R - 1);
    const dev = require('@tensorflow/tfjs').backend().device;
    const s = { backend: b.name, matmul: b.matmul, loss, grad_seconds: steady, write_seconds: 0, first_pass_seconds: times[0], pass_seconds: times, kept_layers: keptLayers,
      readback_seconds: readback, kernel_launches_per_pass: dev && dev.launches !== undefined ? Math.round(dev.launches / R) : undefined,
      gemms_per_pass: dev && dev.gemms !== undefined ? Math.round(dev.gemms / R) : undefined, pool_driver_allocs: dev && dev.pool ? dev.pool.driverAllocs : undefined, pool_trims: dev && dev.pool ? dev.pool.trims : undefined, peak_rss_bytes: process.resourceUsage().maxRSS * 1024, seconds: (Date.now() - t0) / 1000 };
    process.stdout.write(JSON.stringify(s));
  })();`;
if (flag('--no-write')) argv.splice(0, argv.length, '-e', noWrite);
const t0 = Date.now();
// SIL_BENCH_NODE_ARGS: extra node flags for the measured process (e.g. --cpu-prof)
const nodeArgs = (process.env.SIL_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
const r = spawnSync(process.execPath, [...nodeArgs, ...argv], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
const wall = (Date.now() - t0) / 1000;
if (r.status !== 0) {
  process.stderr.write(r.stdout ?? '');
  throw new Error(`sil grad exited with ${r.status}`);
}
const s = JSON.parse(r.stdout);
if (!keep) fs.rmSync(out, { force: true });
if (!keep && !opt('--dir', '')) fs.rmSync(dir, { recursive: true, force: true });
const tokens = B * T;
const res = {
  bench: 'scale',
  date: new Date().toISOString().slice(0, 10),
  layers: L,
  params: nParams,
  seqs: B,
  tokens_per_seq: T,
  backend: s.backend,
  matmul: s.matmul,
  weight_cache: cache,
  writes_gradients: !flag('--no-write'),
  checkpoint_seconds: makeSeconds,
  loss: s.loss,
  peak_rss_gib: +(s.peak_rss_bytes / 2 ** 30).toFixed(2),
  grad_seconds: +s.grad_seconds.toFixed(2),
  write_seconds: +s.write_seconds.toFixed(2),
  total_seconds: +wall.toFixed(2),
  tokens_per_s_fwd_bwd: +(tokens / s.grad_seconds).toPrecision(3),
  tokens_per_s_end_to_end: +((tokens * passes) / wall).toPrecision(3),
  ...(passes > 1
    ? {
        passes,
        first_pass_seconds: +s.first_pass_seconds.toFixed(2),
        pass_seconds: s.pass_seconds,
        readback_seconds: +s.readback_seconds.toFixed(2),
        kernel_launches_per_pass: s.kernel_launches_per_pass,
        gemms_per_pass: s.gemms_per_pass,
        kept_layers: s.kept_layers,
        pool_driver_allocs: s.pool_driver_allocs,
        pool_trims: s.pool_trims,
      }
    : {}),
  machine: `${os.cpus().length} cores ${os.cpus()[0]?.model ?? ''}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
};
process.stdout.write(JSON.stringify(res) + '\n');
