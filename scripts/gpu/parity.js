#!/usr/bin/env node
// @ts-check
/**
 * `npm run test:gpu`: the cuda backend against the PyTorch goldens on a machine with an NVIDIA GPU.
 *   --precision f32: logits, loss and every parameter gradient ≤ 1e-5 relative L2 per tensor, in memory
 *                    and layer-streamed (boundaries, weights and sums on the GPU)
 *   --precision bf16: every gradient ≤ 3e-2 relative L2 per tensor
 *   SIL masks at k = 0.2 (sil locate on the demo pair, and |Δ|⊙|∇| top-20% on each fixture): IoU of
 *                    bf16 vs f32 masks ≥ 0.97
 * Goldens: the shared hf-tiny fixtures and test/goldens/* (folders with golden.json), from
 * SIL_GOLDENS (':'-separated list of folders holding golden folders) or ../shared/fixtures/hf-tiny
 * and test/goldens. Prints one line per check and a closing `N passed, N failed`; exit 1 on failure.
 * Needs `npm run build`.
 */
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const root = path.resolve(__dirname, '..', '..');
const d = (m) => require(path.join(root, 'dist', m));
const tf = require('@tensorflow/tfjs');
const { useBackend } = d('model/backend');
const { setCudaOptions } = d('cuda');
const { Checkpoint } = d('io/checkpoint');
const { CausalLM } = d('model/model');
const { SafetensorsFile } = d('io/safetensors');
const { parseModelConfig } = d('model/config');
const { streamedGradients, wholeTensors } = d('stream/engine');
const { linearWeight, paramShape } = d('model/names');
const { cudaWeightStorage } = d('model/planner');
const { GradSums } = d('stream/sums');

const roots = (process.env.SIL_GOLDENS ?? [path.resolve(root, '../shared/fixtures/hf-tiny'), path.join(root, 'test/goldens')].join(':')).split(':').filter((r) => fs.existsSync(r));
const goldens = roots
  .flatMap((r) =>
    fs
      .readdirSync(r)
      .map((n) => path.join(r, n))
      .filter((g) => fs.existsSync(path.join(g, 'golden.json'))),
  )
  .sort();
const results = [];
const log = (ok, what) => {
  results.push(ok);
  process.stdout.write(`${ok ? 'PASS' : 'FAIL'} ${what}\n`);
};

function relL2(a, b) {
  let n = 0,
    m = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] - b[i];
    n += x * x;
    m += b[i] * b[i];
  }
  return Math.sqrt(n) / Math.max(Math.sqrt(m), 1e-30);
}

function load(g) {
  return { json: JSON.parse(fs.readFileSync(path.join(g, 'golden.json'), 'utf8')), st: SafetensorsFile.open(path.join(g, 'golden.safetensors')), model: path.join(g, 'base') };
}

/** worst relative L2 over grad/* and the names above tol */
function compareGrads(grads, st, tol) {
  let worst = 0,
    worstName = '';
  const bad = [];
  for (const [name, got] of grads) {
    const r = relL2(got, st.readF32(`grad/${name}`));
    if (!(r <= tol)) bad.push(`${name} ${r.toExponential(2)}`);
    if (r > worst || Number.isNaN(r)) {
      worst = r;
      worstName = name;
    }
  }
  const want = [...st.tensors.keys()].filter((k) => k.startsWith('grad/')).length;
  if (grads.size !== want) bad.push(`${grads.size} gradients, golden has ${want}`);
  return { worst, worstName, bad };
}

async function inMemory(g, precision, tol) {
  setCudaOptions({ precision });
  await useBackend('cuda');
  const G = load(g);
  const ck = Checkpoint.open(G.model);
  const model = CausalLM.fromCheckpoint(ck);
  try {
    const t0 = Date.now();
    const logits = model.logits(G.json);
    const lr = relL2(logits, G.st.readF32('logits'));
    const { loss, grads } = model.lossAndGrads(G.json);
    const c = compareGrads(grads, G.st, tol);
    const lossRel = Math.abs(loss - G.json.loss) / Math.abs(G.json.loss);
    const lossTol = precision === 'f32' ? 1e-5 : 3e-2;
    log(
      c.bad.length === 0 && lossRel <= lossTol && (precision !== 'f32' || lr <= 1e-5),
      `${path.basename(g)} in memory, ${precision}: loss rel ${lossRel.toExponential(2)}, logits rel L2 ${lr.toExponential(2)}, worst gradient rel L2 ${c.worst.toExponential(2)} (${c.worstName}) ≤ ${tol}${c.bad.length ? `; over: ${c.bad.slice(0, 5).join(', ')}` : ''} [${Date.now() - t0} ms]`,
    );
    return grads;
  } finally {
    model.dispose();
    ck.close();
    G.st.close();
  }
}

/**
 * The layer-streamed pass as sil grad and sil locate plan it on cuda: boundaries, weights and every
 * layer's forward state kept on the GPU; then two passes summed on the GPU with the layers' weight
 * gradients added into the sums in place (β = 1), which must equal twice the golden gradients.
 */
async function streamed(g, precision, tol) {
  setCudaOptions({ precision });
  await useBackend('cuda');
  const G = load(g);
  const ck = Checkpoint.open(G.model);
  const cfg = parseModelConfig(ck.config, G.model);
  const grads = new Map();
  const size = (n) => paramShape(cfg, n).reduce((a, b) => a * b, 1);
  const plan = {
    vocabChunk: 37,
    boundaries: 'device',
    weightCacheBytes: 1e12,
    weightStorage: cudaWeightStorage('cuda', ck.info(linearWeight(0, 'q')).dtype),
    deviceBudgetBytes: 1e12,
    embeddingOnDevice: true,
  };
  try {
    let kept = 0;
    const r = await streamedGradients(
      cfg,
      ck,
      G.json,
      wholeTensors(size, (n, x) => {
        grads.set(n, x);
      }),
      { ...plan, onPlan: (p) => (kept = p.keptLayers) },
    );
    const c = compareGrads(grads, G.st, tol);
    const lossRel = Math.abs(r.loss - G.json.loss) / Math.abs(G.json.loss);
    log(
      c.bad.length === 0 && lossRel <= (precision === 'f32' ? 1e-5 : 3e-2),
      `${path.basename(g)} layer-streamed (${kept} of ${cfg.numLayers} layers keep their forward state), ${precision}: loss rel ${lossRel.toExponential(2)}, worst gradient rel L2 ${c.worst.toExponential(2)} (${c.worstName})${c.bad.length ? `; over: ${c.bad.slice(0, 5).join(', ')}` : ''}`,
    );
    const sums = new GradSums(['grad']);
    try {
      for (let k = 0; k < 2; k++) {
        await streamedGradients(cfg, ck, G.json, (n, st, x) => sums.addHost(n, st, x), {
          ...plan,
          deviceSink: (n, st, t) => sums.addTensor(n, st, t),
          deviceSums: (n) => sums.inPlace(n),
          rowSink: (n, rows, x) => sums.addRows(n, size(n), rows, x),
          deviceRowSums: (n) => sums.rowsInPlace(n, size(n)),
        });
      }
      const half = new Map();
      // pieces (the head's vocabulary chunks) go in at their first element
      await sums.drain(ck.names(), (_f, n, st, x) => {
        if (!half.has(n)) half.set(n, new Float32Array(size(n)));
        half.get(n).set(
          x.map((v) => v / 2),
          st,
        );
      });
      const s2 = compareGrads(half, G.st, tol);
      log(s2.bad.length === 0, `${path.basename(g)} layer-streamed, 2 passes summed in place on the GPU, ${precision}: worst gradient rel L2 of sum/2 ${s2.worst.toExponential(2)} (${s2.worstName})`);
    } finally {
      sums.dispose();
    }
  } finally {
    ck.close();
    G.st.close();
  }
}

/** top-k fraction mask of |Δ|⊙|g| over all linear weights (ties at the threshold included) */
function topMask(scores, k) {
  const all = new Float32Array(scores.reduce((a, s) => a + s.length, 0));
  let o = 0;
  for (const s of scores) {
    all.set(s, o);
    o += s.length;
  }
  const sorted = Float32Array.from(all).sort();
  const thr = sorted[Math.max(0, Math.floor(all.length * (1 - k)))];
  return all.map((x) => (x >= thr ? 1 : 0));
}

function iou(a, b) {
  let i = 0,
    u = 0;
  for (let j = 0; j < a.length; j++) {
    i += a[j] & b[j];
    u += a[j] | b[j];
  }
  return u === 0 ? 1 : i / u;
}

async function fixtureMasks(g, f32grads, bf16grads) {
  // |Δ| against the fixture's attacked model where there is one, else |θ| (weights as their own delta)
  const G = load(g);
  const ck = Checkpoint.open(G.model);
  const names = [...f32grads.keys()].filter((n) => /proj\.weight$/.test(n)).sort();
  const attackedDir = path.join(g, 'attacked');
  const att = fs.existsSync(path.join(attackedDir, 'config.json')) ? Checkpoint.open(attackedDir) : null;
  const score = (grads) =>
    names.map((n) => {
      const w = ck.readF32(n);
      const a = att ? att.readF32(n) : null;
      const gr = grads.get(n);
      return gr.map((x, i) => Math.abs(a ? w[i] - a[i] : w[i]) * Math.abs(x));
    });
  const v = iou(topMask(score(f32grads), 0.2), topMask(score(bf16grads), 0.2));
  log(v >= 0.97, `${path.basename(g)}: SIL-style top-20% mask, bf16 vs f32 gradients, IoU ${v.toFixed(4)} ≥ 0.97 (${att ? '|Δ| to attacked' : '|θ| as Δ'})`);
  ck.close();
  att?.close();
  G.st.close();
}

function demoMasks() {
  const cli = path.join(root, 'dist', 'cli', 'main.js');
  const out = {};
  for (const p of ['f32', 'bf16', 'tf32']) {
    const dir = path.join(require('node:os').tmpdir(), `sil-gpu-parity-${p}-${process.pid}`);
    fs.rmSync(dir, { recursive: true, force: true });
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [cli, 'locate', '--out', dir, '--backend', 'cuda', '--precision', p, '--json'], { cwd: root, encoding: 'utf8' });
    if (r.status !== 0) {
      log(false, `sil locate --backend cuda --precision ${p} on the demo pair exited ${r.status}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
      return;
    }
    out[p] = { dir, seconds: (Date.now() - t0) / 1000 };
  }
  const masks = (dir) => {
    const files = [];
    const walk = (x) => {
      for (const e of fs.readdirSync(x, { withFileTypes: true })) {
        const q = path.join(x, e.name);
        if (e.isDirectory()) walk(q);
        else if (/mask.*\.safetensors$/.test(e.name) || (x.includes('masks') && e.name.endsWith('.safetensors'))) files.push(q);
      }
    };
    walk(dir);
    return files.sort();
  };
  const fa = masks(out.f32.dir);
  const fb = masks(out.bf16.dir);
  if (fa.length === 0) {
    log(false, `no mask files found under ${out.f32.dir}`);
    return;
  }
  /** intersection, union and symmetric difference of two masks' 1-entries */
  const compare = (f, other) => {
    const A = SafetensorsFile.open(f),
      B = SafetensorsFile.open(other);
    let inter = 0,
      uni = 0;
    for (const n of A.tensors.keys()) {
      const a = A.readF32(n),
        b = B.readF32(n);
      for (let i = 0; i < a.length; i++) {
        const x = a[i] !== 0,
          y = b[i] !== 0;
        inter += x && y ? 1 : 0;
        uni += x || y ? 1 : 0;
      }
    }
    A.close();
    B.close();
    return { inter, uni, diff: uni - inter, iou: uni === 0 ? 1 : inter / uni };
  };
  const derived = (rel) => /intersection|union/.test(rel);
  let langDiff = 0;
  const pending = [];
  for (const f of fa) {
    const rel = path.relative(out.f32.dir, f);
    const other = path.join(out.bf16.dir, rel);
    if (!fb.includes(other)) {
      log(false, `demo mask ${rel} missing from the bf16 run`);
      continue;
    }
    const c = compare(f, other);
    const t = out.tf32 && fs.existsSync(path.join(out.tf32.dir, rel)) ? compare(f, path.join(out.tf32.dir, rel)).iou : NaN;
    if (derived(rel)) {
      pending.push({ rel, c, t });
      continue;
    }
    if (!/benign|random/.test(rel)) langDiff += c.diff;
    log(
      c.iou >= 0.97,
      `demo pair, sil locate k = 0.2, ${rel}: IoU bf16 vs f32 ${c.iou.toFixed(4)} ≥ 0.97 (tf32 vs f32 ${t.toFixed(4)}; locate ${out.f32.seconds.toFixed(1)} s f32, ${out.bf16.seconds.toFixed(1)} s bf16)`,
    );
  }
  for (const { rel, c, t } of pending) {
    // ∩ / ∪ of the language masks: each entry that differs here differs in at least one language
    // mask, so |∩ Δ ∩'| ≤ Σ_lang |L Δ L'|: the language masks' small differences add up over a set
    // much smaller than each of them (reported, not a k = 0.2 SIL mask)
    process.stdout.write(
      `INFO demo pair, ${rel} (derived from the language masks): IoU bf16 vs f32 ${c.iou.toFixed(4)}, tf32 vs f32 ${t.toFixed(4)}; ` +
        `|Δ| = ${c.diff} entries of ${c.uni} (${((100 * c.diff) / Math.max(c.uni, 1)).toFixed(2)} %), the language masks' differences sum to ${langDiff} (${((100 * langDiff) / Math.max(c.uni, 1)).toFixed(2)} % of it)\n`,
    );
  }
}

void (async () => {
  process.stdout.write(`goldens: ${goldens.map((g) => path.basename(g)).join(', ')}\n`);
  for (const g of goldens) {
    let f32 = null,
      bf16 = null;
    try {
      f32 = await inMemory(g, 'f32', 1e-5);
    } catch (e) {
      log(false, `${path.basename(g)} in memory f32 threw: ${e.stack}`);
    }
    try {
      await streamed(g, 'f32', 1e-5);
    } catch (e) {
      log(false, `${path.basename(g)} streamed f32 threw: ${e.stack}`);
    }
    try {
      bf16 = await inMemory(g, 'bf16', 3e-2);
    } catch (e) {
      log(false, `${path.basename(g)} in memory bf16 threw: ${e.stack}`);
    }
    try {
      if (f32 && bf16) await fixtureMasks(g, f32, bf16);
    } catch (e) {
      log(false, `${path.basename(g)} masks threw: ${e.stack}`);
    }
  }
  const b = /** @type {any} */ (tf.backend());
  if (b.fallbacks) process.stdout.write(`kernels run on the cpu backend: ${JSON.stringify(Object.fromEntries(b.fallbacks))}\n`);
  try {
    demoMasks();
  } catch (e) {
    log(false, `demo masks threw: ${e.stack}`);
  }
  const passed = results.filter(Boolean).length;
  process.stdout.write(`${passed} passed, ${results.length - passed} failed\n`);
  process.exitCode = results.length - passed > 0 || results.length === 0 ? 1 : 0;
})();
