#!/usr/bin/env node
// @ts-check
/**
 * bench:locate — end-to-end `sil locate` on a Llama-3.1-8B-shaped random BF16 pair with 16
 * calibration examples in one language; wall time and peak RSS of the `sil` process.
 *
 *   npm run bench:locate -- [--layers 32] [--hidden 4096] [--vocab 128256] [--examples 16]
 *                           [--batch-size 4] [--max-length 128] [--threads N] [--backend auto]
 *                           [--bitpack] [--keep] [--score sil] [--pair DIR] [--grads random]
 *
 * Shapes follow Llama-3.1-8B with the hidden size as the knob: head_dim 128, hidden/128 query
 * heads, a quarter as many KV heads, FFN 3.5 × hidden, untied head; the defaults are the full
 * 8B shape (8.03e9 parameters). The base is seeded random (uniform ±0.05), the attacked copy the
 * base plus small seeded noise. A byte-level tokenizer with a `<|user|>…<|assistant|>…</s>` chat
 * template is added; calibration prompts are the probe set's first `--examples` English prompts.
 * `--pair DIR` uses the pair already in DIR/base and DIR/attacked (e.g. written by
 * bench/locate_pair.py on a GPU machine, same names, shapes and config) instead of writing one.
 * `--grads random` skips the gradient pass: it writes seeded random float32 gradient sums for the
 * in-scope (linear) tensors to DIR/grads.safetensors and runs `sil locate --grads` on them — the
 * selection and outputs at full size where the gradients themselves are out of reach (sums computed
 * elsewhere, e.g. with PyTorch on a GPU machine).
 * Runs the built CLI (npm run build first, which `npm run bench:locate` does).
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { SafetensorsWriter } = require('../dist/io/writer');
const { cliOptions, llamaConfig, llamaShapes, paramCount } = require('./llama');

const { opt, flag } = cliOptions();
const L = Number(opt('--layers', '32'));
const H = Number(opt('--hidden', '4096'));
const V = Number(opt('--vocab', '128256'));
const examples = opt('--examples', '16');
const batchSize = opt('--batch-size', '4');
const maxLength = opt('--max-length', '128');
const threads = opt('--threads', String(os.availableParallelism?.() ?? os.cpus().length));
const keep = flag('--keep');
const backend = opt('--backend', 'auto');
const bitpack = flag('--bitpack') ? ['--bitpack'] : [];
const score = opt('--score', 'sil');
const pairDir = opt('--pair', '');
const gradsMode = opt('--grads', '');
if (gradsMode !== '' && gradsMode !== 'random') throw new Error('--grads takes only "random"');
if (H % 128 !== 0 || H < 512) throw new Error('--hidden must be a multiple of 128, at least 512 (head_dim 128, KV heads = heads / 4)');
const heads = H / 128;
const kvHeads = heads / 4;
const F = Math.round((3.5 * H) / 256) * 256;

const dir = pairDir || fs.mkdtempSync(path.join(os.tmpdir(), 'sil-bench-locate-'));
const dims = { L, H, F, V, heads, kv: kvHeads, D: 128 };
const cfg = llamaConfig(dims, { maxPositions: 8192, ropeScaling: null, bos: 1, eos: 2 });
const shapes = llamaShapes(dims, false);
const nParams = paramCount(shapes);

/** xorshift32 uniforms in [-1, 1), straight into BF16 bit patterns (round to nearest even). */
function fillBf16(out, seed, scale, addTo) {
  let x = seed >>> 0 || 1;
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    let v = ((x / 4294967296) * 2 - 1) * scale;
    if (addTo) {
      u[0] = addTo[i] << 16;
      v += f[0];
    }
    f[0] = v;
    const b = u[0];
    out[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
  return out;
}

function writePair() {
  const t0 = Date.now();
  for (const side of ['base', 'attacked']) {
    fs.mkdirSync(path.join(dir, side));
    fs.writeFileSync(path.join(dir, side, 'config.json'), JSON.stringify(cfg, null, 2));
  }
  const specs = shapes.map(([name, shape]) => ({ name, dtype: /** @type {'BF16'} */ ('BF16'), shape }));
  const wb = SafetensorsWriter.create(path.join(dir, 'base/model.safetensors'), specs, { format: 'pt' });
  const wa = SafetensorsWriter.create(path.join(dir, 'attacked/model.safetensors'), specs, { format: 'pt' });
  const CH = 1 << 24;
  shapes.forEach(([name, shape], t) => {
    const n = shape.reduce((x, y) => x * y, 1);
    const norm = shape.length === 1;
    for (let s = 0; s < n; s += CH) {
      const len = Math.min(CH, n - s);
      const b = norm ? new Uint16Array(len).fill(0x3f80) : fillBf16(new Uint16Array(len), 0x9e3779b9 ^ (t * 7919 + s), 0.05, null);
      wb.write(name, b);
      wa.write(name, fillBf16(new Uint16Array(len), 0x85ebca6b ^ (t * 104729 + s), 0.002, b));
    }
  });
  wb.close();
  wa.close();
  return (Date.now() - t0) / 1000;
}

/** Seeded random F32 gradient sums (uniform ±1e-3) for the linear projections, keyed by bare tensor names. */
function writeRandomGrads(file) {
  const t0 = Date.now();
  const linear = shapes.filter(([name, shape]) => shape.length === 2 && name.startsWith('model.layers.'));
  const w = SafetensorsWriter.create(
    file,
    linear.map(([name, shape]) => ({ name, dtype: /** @type {'F32'} */ ('F32'), shape })),
    { lang: 'en', format: 'pt' },
  );
  const CH = 1 << 24;
  linear.forEach(([name, shape], t) => {
    const n = shape[0] * shape[1];
    for (let s = 0; s < n; s += CH) {
      const out = new Float32Array(Math.min(CH, n - s));
      let x = (0x27d4eb2d ^ (t * 65537 + s)) >>> 0 || 1;
      for (let i = 0; i < out.length; i++) {
        x ^= x << 13;
        x >>>= 0;
        x ^= x >>> 17;
        x ^= x << 5;
        x >>>= 0;
        out[i] = ((x / 4294967296) * 2 - 1) * 1e-3;
      }
      w.write(name, out);
    }
  });
  w.close();
  return (Date.now() - t0) / 1000;
}

function writeTokenizer(target) {
  const bs = [];
  for (let i = 33; i <= 126; i++) bs.push(i);
  for (let i = 161; i <= 172; i++) bs.push(i);
  for (let i = 174; i <= 255; i++) bs.push(i);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++)
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  const vocab = { '<pad>': 0, '<s>': 1, '</s>': 2 };
  bs.forEach((b, i) => {
    if (b >= 3) vocab[String.fromCharCode(cs[i])] = b;
  });
  const special = (content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  fs.writeFileSync(
    path.join(target, 'tokenizer.json'),
    JSON.stringify({
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [special('<pad>', 0), special('<s>', 1), special('</s>', 2)],
      normalizer: null,
      pre_tokenizer: byteLevel,
      post_processor: null,
      decoder: byteLevel,
      model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: [] },
    }),
  );
  fs.writeFileSync(
    path.join(target, 'tokenizer_config.json'),
    JSON.stringify({
      bos_token: '<s>',
      eos_token: '</s>',
      pad_token: '<pad>',
      chat_template:
        "{{ bos_token }}{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% if m.role == 'assistant' %}{{ eos_token }}{% endif %}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}",
    }),
  );
}

try {
  console.log(
    `pair: ${L} layers, hidden ${H}, ${heads}/${kvHeads} heads, FFN ${F}, vocab ${V}: ${(nParams / 1e9).toFixed(3)}e9 parameters (BF16, ${((2 * nParams) / 2 ** 30).toFixed(2)} GiB per checkpoint)`,
  );
  if (!pairDir) {
    const genS = writePair();
    console.log(`wrote the pair in ${genS.toFixed(1)} s to ${dir}`);
  } else console.log(`using the pair in ${dir}`);
  writeTokenizer(path.join(dir, 'base'));
  const out = path.join(dir, 'run');
  const gradsFile = path.join(dir, 'grads.safetensors');
  if (gradsMode === 'random') {
    if (fs.existsSync(gradsFile)) console.log(`using the gradient sums in ${gradsFile}`);
    else console.log(`wrote random gradient sums in ${writeRandomGrads(gradsFile).toFixed(1)} s to ${gradsFile}`);
  }
  const calibration = gradsMode === 'random' ? ['--grads', gradsFile] : ['--max-examples', examples, '--batch-size', batchSize, '--max-length', maxLength];
  const cli = path.resolve(__dirname, '../dist/cli/main.js');
  const cmd = [
    '-f',
    '%e %M',
    process.execPath,
    cli,
    'locate',
    '--base',
    path.join(dir, 'base'),
    '--attacked',
    path.join(dir, 'attacked'),
    '--langs',
    'en',
    ...calibration,
    '--threads',
    threads,
    '--backend',
    backend,
    '--score',
    score,
    ...bitpack,
    '--no-benign',
    '--out',
    out,
    '--force',
    '--json',
  ];
  // wall time and peak RSS of the child: GNU time where installed, else Python's getrusage(RUSAGE_CHILDREN)
  const viaPython = [
    '-c',
    'import resource,subprocess,sys,time;t=time.time();r=subprocess.run(sys.argv[3:]).returncode;' +
      'sys.stderr.write("\\n%.2f %d\\n"%(time.time()-t,resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss));sys.exit(r)',
  ];
  const r = fs.existsSync('/usr/bin/time')
    ? spawnSync('/usr/bin/time', cmd, { encoding: 'utf8', env: { ...process.env, CI: 'true' }, maxBuffer: 1 << 28 })
    : spawnSync('python3', [...viaPython, ...cmd], { encoding: 'utf8', env: { ...process.env, CI: 'true' }, maxBuffer: 1 << 28 });
  const timeLine = r.stderr.trim().split('\n').pop() ?? '';
  const [wall, kb] = timeLine.split(' ').map(Number);
  if (r.status !== 0) {
    console.log(`sil locate failed (exit ${r.status}) after ${wall} s, peak RSS ${(kb / 1024).toFixed(0)} MiB:\n${r.stderr}`);
    process.exitCode = 1;
  } else {
    const m = JSON.parse(r.stdout);
    const c = m.calibration.en;
    console.log(
      gradsMode
        ? `sil locate --grads ${gradsFile}`
        : `sil locate: ${c.examples} examples, ${c.tokens} response tokens, backend ${m.backend?.name ?? 'none'} (${m.backend?.source ?? '-'}, ${m.backend?.plan ?? 'no gradients'})`,
    );
    console.log(
      `wall ${wall.toFixed(1)} s (gradients ${(m.timings.gradients_en_s ?? 0).toFixed(1)} s, selection and outputs ${m.timings.select_s.toFixed(1)} s, delta ${m.timings.delta_s.toFixed(1)} s), peak RSS ${(kb / 1024).toFixed(0)} MiB`,
    );
    console.log(`timings ${JSON.stringify(m.timings)}`);
    console.log(`in scope ${m.n_in_scope}, selected ${m.masks.en.selected} (k = ${m.k})`);
  }
} finally {
  if (!keep && !pairDir) fs.rmSync(dir, { recursive: true, force: true });
  else if (!keep) fs.rmSync(path.join(dir, 'run'), { recursive: true, force: true });
}
