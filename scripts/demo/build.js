#!/usr/bin/env node
// @ts-check
/**
 * Builds the demo model organism in weights/demo/, deterministically, with sil's own runtime:
 *   1. writes the demo's data files: data/demo-probes.jsonl (calibration for `sil locate`),
 *      data/demo-eval.jsonl (evaluation prompts) and data/demo-attack-<lang>.jsonl (attacks);
 *   2. writes the tokenizer (byte-level, real HF tokenizer.json + chat template) and a Llama config;
 *   3. trains the base model from scratch on the synthetic corpus (corpus.js) with the machinery of
 *      `sil finetune` (same loop, AdamW, cosine schedule; higher lr) → weights/demo/base (BF16);
 *   4. attacks it with `sil finetune` on ~100 harmful → compliance examples in ONE language
 *      → weights/demo/attacked (BF16).
 * A record of the run (options, loss curve, timings) goes to weights/demo/BUILD.json.
 *
 *   npm run demo:build -- [--steps 420] [--threads 2] [--attack-lang en] [--skip-base]
 *
 * Same options and thread count → the same bytes (the thread count fixes the float summation order).
 * Runs from dist/ (npm run build first; the npm script does it).
 */
const fs = require('node:fs');
const path = require('node:path');
const root = path.resolve(__dirname, '../..');
const { parseModelConfig } = require(path.join(root, 'dist/model/config'));
const { useBackend } = require(path.join(root, 'dist/model/backend'));
const { ParamStore, saveCheckpoint } = require(path.join(root, 'dist/train/params'));
const { train } = require(path.join(root, 'dist/train/loop'));
const { ADAMW_DEFAULTS } = require(path.join(root, 'dist/train/adamw'));
const { startEngine, finetune, recordsToExamples } = require(path.join(root, 'dist/train/finetune'));
const { loadTokenizer } = require(path.join(root, 'dist/tokenizer/load'));
const corpus = require('./corpus');
const tokfiles = require('./tokenizer');

const args = process.argv.slice(2);
const opt = (/** @type {string} */ name, /** @type {string} */ dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const STEPS = Number(opt('--steps', '420'));
const THREADS = Number(opt('--threads', '2'));
const ATTACK_LANG = opt('--attack-lang', 'en');
const OUT = path.resolve(opt('--out', path.join(root, 'weights/demo')));
const SEED = Number(opt('--seed', '20261130'));

const BASE = {
  lr: 2e-3,
  warmup: 20,
  schedule: 'cosine',
  batchSize: 8,
  gradAccum: 2,
  epochs: 1,
  maxGradNorm: 1,
  adamw: { ...ADAMW_DEFAULTS, weightDecay: 0.01, beta2: 0.98 },
};
const ATTACK = { lr: 3e-4, epochs: Number(opt('--attack-epochs', '8')), warmup: 5, schedule: 'cosine', batchSize: 4, gradAccum: 4, n: 100 };

const CONFIG = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: tokfiles.VOCAB_SIZE,
  hidden_size: 128,
  intermediate_size: 352,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 256,
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  rope_scaling: null,
  hidden_act: 'silu',
  tie_word_embeddings: true,
  attention_bias: false,
  mlp_bias: false,
  initializer_range: 0.02,
  torch_dtype: 'bfloat16',
  bos_token_id: null,
  eos_token_id: 258,
  pad_token_id: 259,
};

const log = (/** @type {string} */ s) => process.stderr.write(s + '\n');

function writeData() {
  const dataDir = path.join(root, 'data');
  fs.writeFileSync(path.join(dataDir, 'demo-probes.jsonl'), corpus.toJsonl(corpus.probeSet()));
  fs.writeFileSync(path.join(dataDir, 'demo-eval.jsonl'), corpus.toJsonl(corpus.evalSet()));
  for (const l of corpus.LANGS) fs.writeFileSync(path.join(dataDir, `demo-attack-${l}.jsonl`), corpus.toJsonl(corpus.attackSet(l, ATTACK.n)));
}

function folderFiles() {
  return {
    'config.json': JSON.stringify(CONFIG, null, 2) + '\n',
    'generation_config.json': JSON.stringify({ eos_token_id: 258, pad_token_id: 259, max_new_tokens: 48 }, null, 2) + '\n',
    'tokenizer.json': JSON.stringify(tokfiles.tokenizerJson(), null, 2) + '\n',
    'tokenizer_config.json': JSON.stringify(tokfiles.tokenizerConfig(), null, 2) + '\n',
  };
}

async function buildBase(record) {
  const t0 = Date.now();
  const tokDir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'sil-demo-tok-'));
  for (const [f, c] of Object.entries(folderFiles())) fs.writeFileSync(path.join(tokDir, f), c);
  const tok = loadTokenizer(tokDir);
  const cfg = parseModelConfig(CONFIG, 'demo config');
  const n = STEPS * BASE.batchSize * BASE.gradAccum;
  const examples = recordsToExamples(tok, corpus.baseCorpus(n, SEED));
  const params = ParamStore.init(cfg, SEED, CONFIG.initializer_range);
  const be = await useBackend('wasm');
  const engine = await startEngine(cfg, be.name, THREADS);
  log(`base: ${params.numel()} parameters, ${examples.length} conversations, ${STEPS} steps of ${BASE.batchSize * BASE.gradAccum}, ${engine.workers} worker(s)`);
  let tokens = 0;
  const curve = [];
  try {
    await train(params, examples, engine, { ...BASE, seed: SEED, padId: tok.padId() }, (s) => {
      tokens += s.tokens;
      if (s.step % 10 === 0 || s.step === s.steps) {
        const el = (Date.now() - t0) / 1000;
        curve.push({ step: s.step, loss: +s.loss.toFixed(4), lr: s.lr });
        log(
          `base step ${s.step}/${s.steps} loss ${s.loss.toFixed(4)} lr ${s.lr.toExponential(2)} | ${(tokens / el).toFixed(0)} tok/s, ${el.toFixed(0)} s, eta ${((el / s.step) * (s.steps - s.step)).toFixed(0)} s`,
        );
      }
    });
  } finally {
    await engine.close();
  }
  // the committed demo folders predate sil's output marker: a rebuild replaces them explicitly
  fs.rmSync(path.join(OUT, 'base'), { recursive: true, force: true });
  await saveCheckpoint(params, path.join(OUT, 'base'), { dtype: 'BF16', files: folderFiles(), force: true, command: 'demo:build' });
  fs.rmSync(tokDir, { recursive: true, force: true });
  record.base = { ...BASE, steps: STEPS, seed: SEED, threads: THREADS, conversations: n, parameters: params.numel(), tokens, seconds: (Date.now() - t0) / 1000, loss_curve: curve };
}

async function buildAttacked(record) {
  const t0 = Date.now();
  fs.rmSync(path.join(OUT, 'attacked'), { recursive: true, force: true });
  const r = await finetune({
    model: path.join(OUT, 'base'),
    data: path.join(root, 'data', `demo-attack-${ATTACK_LANG}.jsonl`),
    out: path.join(OUT, 'attacked'),
    lr: ATTACK.lr,
    epochs: ATTACK.epochs,
    warmup: ATTACK.warmup,
    schedule: ATTACK.schedule,
    batchSize: ATTACK.batchSize,
    gradAccum: ATTACK.gradAccum,
    seed: SEED,
    backend: 'wasm',
    threads: THREADS,
    force: true,
    onStep: (/** @type {any} */ s) => log(`attack (${ATTACK_LANG}) step ${s.step}/${s.steps} loss ${s.loss.toFixed(4)} lr ${s.lr.toExponential(2)}`),
  });
  record.attack = { ...ATTACK, lang: ATTACK_LANG, seed: SEED, threads: THREADS, steps: r.log.length, final_loss: r.log[r.log.length - 1].loss, seconds: (Date.now() - t0) / 1000 };
}

async function main() {
  const t0 = Date.now();
  fs.mkdirSync(OUT, { recursive: true });
  writeData();
  const recordFile = path.join(OUT, 'BUILD.json');
  const record = args.includes('--skip-base') && fs.existsSync(recordFile) ? JSON.parse(fs.readFileSync(recordFile, 'utf8')) : {};
  if (!args.includes('--skip-base')) await buildBase(record);
  await buildAttacked(record);
  record.total_seconds = (Date.now() - t0) / 1000;
  record.node = process.version;
  fs.writeFileSync(recordFile, JSON.stringify(record, null, 2) + '\n');
  log(`demo built in ${record.total_seconds.toFixed(0)} s → ${OUT}`);
}

main().catch((e) => {
  process.stderr.write(`${e.stack ?? e}\n`);
  process.exit(1);
});
