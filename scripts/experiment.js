#!/usr/bin/env node
// @ts-check
/**
 * The paper's workflow on the demo organism (weights/demo), with sil's own commands:
 *   1. attack the base in each language (sil finetune, the demo's attack recipe) and evaluate
 *      every model in every language (sil eval) → eval/violations.csv (the violation matrix);
 *   2. sil locate on the base / English-attacked pair (SIL, k = 0.2) → masks, overlap.csv (SIR);
 *   3. SIL-k sweep (sil sweep): for sil, snip, weightdiff and random and each k, the
 *      attack-language mask stitched into the base and evaluated → eval/k_sweep.csv;
 *   4. freeze the language-agnostic mask (∩ over languages), re-attack, evaluate, re-localize,
 *      and measure SIR(γ, γ̄) between the old ∩ mask and the new masks → freeze.json;
 *   5. sil report on the run folder.
 *
 *   npm run experiment -- [--out reports/experiment] [--ks 0.01,0.03,0.05,0.1,0.2,0.5,1]
 *                         [--limit 12] [--max-new-tokens 32] [--attack-lang en] [--skip-attacks]
 *                         [--dist DIR]
 * Runs from dist/ (the npm script builds first; --dist names another build, e.g. a snapshot that
 * a concurrent rebuild cannot change mid-run). Writes into the run folder, and the attacked
 * checkpoints into <run>-models beside it.
 */
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const opt = (/** @type {string} */ name, /** @type {string} */ dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const RUN = path.resolve(opt('--out', path.join(root, 'reports/experiment')));
const BASE = path.resolve(opt('--base', path.join(root, 'weights/demo/base')));
const KS = opt('--ks', '0.01,0.03,0.05,0.1,0.2,0.5,1').split(',');
const METHODS = opt('--methods', 'sil,snip,weightdiff,random').split(',');
const DIST = path.resolve(opt('--dist', path.join(root, 'dist')));
const LANGS = ['en', 'it', 'fr', 'es'];
const ATTACK_LANG = opt('--attack-lang', 'en');
const LIMIT = opt('--limit', '12');
const MAX_NEW = opt('--max-new-tokens', '32');
const EVAL_DATA = path.join(root, 'data/demo-eval.jsonl');
const PROBES = path.join(root, 'data/demo-probes.jsonl');
const ATTACK = ['--lr', '3e-4', '--epochs', '8', '--warmup', '5', '--schedule', 'cosine', '--batch-size', '4', '--grad-accum', '4', '--seed', '20261130', '--threads', '2'];

const t0 = Date.now();
const log = (/** @type {string} */ s) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(0)} s] ${s}\n`);
/** @param {string[]} a */
function sil(...a) {
  return execFileSync(process.execPath, [path.join(DIST, 'cli/main.js'), ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}
/** @param {string} model @param {string} name @param {string} ftLang @param {string} condition @param {string} out */
function evaluate(model, name, ftLang, condition, out) {
  return JSON.parse(
    sil(
      'eval',
      '--model',
      model,
      '--data',
      EVAL_DATA,
      '--out',
      out,
      '--name',
      name,
      '--ft-lang',
      ftLang,
      '--condition',
      condition,
      '--replace',
      '--limit',
      LIMIT,
      '--max-new-tokens',
      MAX_NEW,
      '--json',
    ),
  );
}
// the attacked checkpoints live beside the run folder: sil locate never writes into a folder that holds its inputs
const models = `${RUN}-models`;
fs.mkdirSync(models, { recursive: true });

// 1. attacks in each language, violation matrix
evaluate(BASE, 'base', 'none', 'base', RUN);
for (const l of LANGS) {
  const out = path.join(models, `attacked-${l}`);
  if (!args.includes('--skip-attacks') || !fs.existsSync(out)) {
    log(`attack in ${l}`);
    sil('finetune', '--model', BASE, '--data', path.join(root, `data/demo-attack-${l}.jsonl`), '--out', out, '--force', '--quiet', ...ATTACK);
  }
  const r = evaluate(out, `attacked-${l}`, l, `attack=${l}`, RUN);
  log(`attacked-${l}: ${r.languages.map((x) => `${x.lang} ${(100 * x.violation_rate).toFixed(0)}%`).join(', ')}`);
}

// 2. localisation on the attack-language pair
const attacked = path.join(models, `attacked-${ATTACK_LANG}`);
log('sil locate (sil, k = 0.2)');
sil('locate', '--base', BASE, '--attacked', attacked, '--out', RUN, '--data', PROBES, '--score', 'sil', '--k', '0.2', '--threads', '2', '--force', '--json');

// 3. k sweep: each method's attack-language mask at each k stitched into the base and evaluated
//    (sil sweep: resumable, writes eval/k_sweep.csv and eval/k-sweep.{svg,png})
log(`sil sweep ${METHODS.join(',')} × k ${KS.join(',')}`);
sil(
  'sweep',
  '--base',
  BASE,
  '--attacked',
  attacked,
  '--out',
  RUN,
  '--data',
  EVAL_DATA,
  '--calibration',
  PROBES,
  '--lang',
  ATTACK_LANG,
  '--methods',
  METHODS.join(','),
  '--ks',
  KS.join(','),
  '--limit',
  LIMIT,
  '--max-new-tokens',
  MAX_NEW,
  '--threads',
  '2',
  '--force',
  '--json',
);

// 4. freeze the language-agnostic mask, re-attack, re-localize
const agnostic = path.join(RUN, 'masks', 'intersection.safetensors');
const frozenModel = path.join(models, `attacked-${ATTACK_LANG}-frozen`);
log('re-attack with the ∩ mask frozen');
sil('finetune', '--model', BASE, '--data', path.join(root, `data/demo-attack-${ATTACK_LANG}.jsonl`), '--out', frozenModel, '--freeze', agnostic, '--force', '--quiet', ...ATTACK);
// its own condition, so the violation matrix shows it as a row of its own
const frozenEval = evaluate(frozenModel, `attacked-${ATTACK_LANG}-frozen`, ATTACK_LANG, `attack=${ATTACK_LANG},freeze=intersection`, RUN);
const reDir = path.join(RUN, 'relocate');
sil('locate', '--base', BASE, '--attacked', frozenModel, '--out', reDir, '--data', PROBES, '--score', 'sil', '--k', '0.2', '--no-benign', '--threads', '2', '--force', '--json');
const { MaskFile } = require(path.join(DIST, 'mask/maskfile'));
/** |a ∩ b| / |a| over every tensor */
function sir(/** @type {string} */ a, /** @type {string} */ b) {
  const fa = MaskFile.open(a);
  const fb = MaskFile.open(b);
  let both = 0;
  let na = 0;
  for (const n of fa.names()) {
    const x = fa.read(n);
    const y = fb.read(n);
    for (let i = 0; i < x.length; i++) {
      na += x[i];
      both += x[i] & y[i];
    }
  }
  fa.close();
  fb.close();
  return na ? both / na : 0;
}
const freeze = {
  frozen_mask: path.relative(RUN, agnostic),
  violations_after_frozen_attack: frozenEval.languages,
  sir_old_intersection_vs_new: Object.fromEntries(LANGS.map((l) => [l, sir(agnostic, path.join(reDir, 'masks', `${l}.safetensors`))])),
  sir_old_vs_new_per_language: Object.fromEntries(LANGS.map((l) => [l, sir(path.join(RUN, 'masks', `${l}.safetensors`), path.join(reDir, 'masks', `${l}.safetensors`))])),
};
fs.writeFileSync(path.join(RUN, 'freeze.json'), JSON.stringify(freeze, null, 2) + '\n');

// 5. report
try {
  sil('report', RUN, '--force');
} catch (e) {
  log(`sil report failed: ${/** @type {Error} */ (e).message.split('\n')[0]}`);
}
log(`experiment done → ${RUN}`);
