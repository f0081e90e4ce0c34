#!/usr/bin/env node
// @ts-check
/**
 * CLI-level fuzzing campaign: runs the built `sil` as a user would (one process per case) on
 * generated bad inputs — mutated checkpoints, config.json fields, index.json, calibration files,
 * masks, run folders and numeric options — over delta, locate, stitch, mask and report, and
 * classifies every outcome:
 *
 *   clean       exit 2, stderr one `sil: error [CODE]: …` line (warnings and notes may precede it)
 *   stack       a stack trace or exit 1 (an error sil did not recognise)
 *   leftovers   a failed run left files behind (its --out, temporary files) or changed an input
 *   silent      exit 0 on an input that is certainly bad
 *   accepted    exit 0 on an input that may be fine (a flipped weight byte, a valid option value)
 *   hang        still running at the time limit (killed)
 *   crash       killed by a signal, or any other exit code
 *
 * and each case's peak RSS (GNU time). Prints the table and the first cases of each bad outcome.
 *
 *   npm run fuzz -- [--cases N] [--seed S] [--jobs J] [--timeout SECONDS] [--json FILE]
 *
 * Cases are kept cheap (tiny checkpoints, one example, --no-benign), and each command loads only
 * what it needs (src/cli/lazy.ts), so a case costs about Node's start-up plus its own work.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const MAIN = path.join(ROOT, 'dist/cli/main.js');
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const CASES = Number(opt('--cases', '200'));
const SEED = Number(opt('--seed', String(Date.now() % 2 ** 31)));
const JOBS = Number(opt('--jobs', String(Math.max(1, Math.min(4, os.cpus().length)))));
const TIMEOUT_S = Number(opt('--timeout', '120'));
const JSON_OUT = opt('--json', undefined);
const RSS_LIMIT_KB = 1024 * 1024;
const TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

/** mulberry32 */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---- the workspace: valid inputs that every case copies and mutates -----------------------------
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-fuzz-'));
const DEMO = path.join(ROOT, 'weights/demo');
const TINY = path.join(ROOT, 'weights/tiny');
const PROBES = path.join(ROOT, 'data/demo-probes.jsonl');

function run(argv, cwd = WORK) {
  return new Promise((resolve) => {
    const rssFile = path.join(cwd, `.rss-${process.hrtime.bigint()}`);
    const cmd = TIME ? TIME : process.execPath;
    const full = TIME ? ['-f', '%M', '-o', rssFile, process.execPath, MAIN, ...argv] : [MAIN, ...argv];
    const t0 = Date.now();
    const child = spawn(cmd, full, { cwd, env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout = (stdout + d).slice(-20000)));
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-20000)));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }, TIMEOUT_S * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let rssKb = null;
      try {
        const lines = fs.readFileSync(rssFile, 'utf8').trim().split('\n');
        rssKb = Number(lines[lines.length - 1]) || null;
        // GNU time reports "Command terminated by signal N" / "exited with non-zero status" lines
        const sig = /terminated by signal (\d+)/.exec(lines.join('\n'));
        if (sig && !signal) signal = /** @type {NodeJS.Signals} */ (`SIG${sig[1]}`);
        fs.rmSync(rssFile, { force: true });
      } catch {}
      resolve({ code, signal, stdout, stderr, timedOut, rssKb, seconds: (Date.now() - t0) / 1000 });
    });
  });
}

function copyDir(src, dst) {
  fs.mkdirSync(dst, { recursive: true });
  for (const f of fs.readdirSync(src)) {
    const p = path.join(src, f);
    if (fs.statSync(p).isFile()) fs.copyFileSync(p, path.join(dst, f));
  }
  return dst;
}

/** name → size:mtime of every file under dir (to see leftovers and changed inputs). */
function snapshot(dir, rel = '', out = new Map()) {
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = path.join(rel, e.name);
    if (e.name.startsWith('.rss-')) continue;
    if (e.isDirectory()) {
      out.set(r + '/', 'dir');
      snapshot(dir, r, out);
    } else {
      const st = fs.statSync(path.join(dir, r));
      out.set(r, `${st.size}:${st.mtimeMs}`);
    }
  }
  return out;
}

// ---- mutations ---------------------------------------------------------------------------------
const BAD_NUMBERS = ['-1', '0', '1e9', '1e308', 'abc', '', ' ', 'NaN', 'Infinity', '1.5', '-0', '0x10', '100000', '2e-400', '1e-9'];
/** Values of BAD_NUMBERS that no flag of a kind takes (a success on one is *silent*); the others may be fine. */
const CERTAINLY_BAD = {
  // integer flags (--threads, --batch-size, --max-length, --max-examples, --seed, --regions): all ≥ 0
  int: ['-1', '1e308', 'abc', '', ' ', 'NaN', 'Infinity', '1.5', '2e-400', '1e-9'],
  // fractions in (0, 1] (--k, --q)
  fraction: ['-1', '0', '1e9', '1e308', 'abc', '', ' ', 'NaN', 'Infinity', '1.5', '-0', '0x10', '100000', '2e-400'],
  // sizes (--max-shard-size): a positive byte count or a size with a unit
  size: ['-1', '0', 'abc', '', ' ', 'NaN', 'Infinity', '1.5', '-0', '2e-400', '1e-9'],
};
const KIND_OF_FLAG = { '--max-shard-size': 'size', '--k': 'fraction', '--q': 'fraction' };
/** `true` when `v` is certainly bad for `flag`, else 'maybe'. */
const badFor = (flag, v) => (CERTAINLY_BAD[KIND_OF_FLAG[flag] ?? 'int'].includes(v) ? true : 'maybe');
/** @type {Array<[string, unknown]>} */
const BAD_CONFIG = [
  ['rms_norm_eps', -1],
  ['rms_norm_eps', 0],
  ['rms_norm_eps', 'x'],
  ['rope_theta', 0],
  ['rope_theta', -5],
  ['num_hidden_layers', 1e300],
  ['num_hidden_layers', 1],
  ['num_hidden_layers', 7],
  ['num_hidden_layers', 2.5],
  ['max_position_embeddings', 'x'],
  ['max_position_embeddings', -3],
  ['rope_scaling', 'linear'],
  ['rope_scaling', { rope_type: 'yarn', factor: 2 }],
  ['rope_scaling', { rope_type: 'linear', factor: -1 }],
  ['tie_word_embeddings', 'yes'],
  ['vocab_size', 2 ** 40],
  ['vocab_size', 100],
  ['hidden_size', 33],
  ['hidden_size', 0],
  ['num_attention_heads', 3],
  ['num_key_value_heads', 3],
  ['head_dim', 7],
  ['intermediate_size', null],
  ['architectures', 'LlamaForCausalLM'],
  ['architectures', ['GPT2LMHeadModel']],
  ['hidden_act', 'gelu'],
  ['torch_dtype', 16],
  ['sliding_window', -1],
  ['attention_bias', 'no'],
];

function mutateSafetensors(file, r) {
  const b = fs.readFileSync(file);
  const kind = Math.floor(r() * 6);
  if (kind === 0) return (fs.writeFileSync(file, b.subarray(0, Math.floor(r() * b.length))), 'truncated');
  if (kind === 1) {
    const len = Number(b.readBigUInt64LE(0));
    const i = 8 + Math.floor(r() * len);
    b[i] = Math.floor(r() * 256);
    return (fs.writeFileSync(file, b), 'header byte');
  }
  if (kind === 2) {
    b.writeBigUInt64LE(BigInt(Math.floor(r() * 2 ** 40)), 0);
    return (fs.writeFileSync(file, b), 'header length');
  }
  if (kind === 3) {
    const len = Number(b.readBigUInt64LE(0));
    const h = JSON.parse(b.subarray(8, 8 + len).toString());
    const names = Object.keys(h).filter((n) => n !== '__metadata__');
    const n = names[Math.floor(r() * names.length)];
    const edits = [
      () => (h[n].dtype = ['F64', 'Q4', 'I8', 'f32'][Math.floor(r() * 4)]),
      () => (h[n].shape = [h[n].shape[0] + 1, ...h[n].shape.slice(1)]),
      () => (h[n].data_offsets = [h[n].data_offsets[0], h[n].data_offsets[1] + 2]),
      () => delete h[n],
      () => (h[n].shape = [-1]),
      () => (h[n].data_offsets = [0, 2 ** 60]),
    ];
    edits[Math.floor(r() * edits.length)]();
    const json = Buffer.from(JSON.stringify(h));
    const len2 = Buffer.alloc(8);
    len2.writeBigUInt64LE(BigInt(json.length));
    return (fs.writeFileSync(file, Buffer.concat([len2, json, b.subarray(8 + len)])), 'header field');
  }
  if (kind === 4) {
    // NaN / Inf in the data (BF16: exponent all ones)
    const len = Number(b.readBigUInt64LE(0));
    const i = 8 + len + 2 * Math.floor(r() * ((b.length - 8 - len) / 2));
    b.writeUInt16LE(r() < 0.5 ? 0x7fc0 : 0x7f80, i);
    return (fs.writeFileSync(file, b), 'nonfinite weight');
  }
  const len = Number(b.readBigUInt64LE(0));
  const i = 8 + len + Math.floor(r() * (b.length - 8 - len));
  b[i] ^= 1 << Math.floor(r() * 8);
  return (fs.writeFileSync(file, b), 'data bit');
}

function mutateConfig(dir, r) {
  const p = path.join(dir, 'config.json');
  const c = JSON.parse(fs.readFileSync(p, 'utf8'));
  const [k, v] = /** @type {[string, unknown]} */ (BAD_CONFIG[Math.floor(r() * BAD_CONFIG.length)]);
  c[k] = v;
  if (r() < 0.1) return (fs.writeFileSync(p, '{"architectures": ['), 'config not JSON');
  fs.writeFileSync(p, JSON.stringify(c));
  return `config ${k}=${JSON.stringify(v)}`;
}

function badData(file, r) {
  const good = fs.readFileSync(PROBES, 'utf8').split('\n').filter(Boolean).slice(0, 6);
  const kinds = [
    () => [good.join('\n'), Buffer.from([0xff, 0xfe, 0x0a])].map((x) => Buffer.from(x)),
    () => [Buffer.from(good[0].replace('"prompt":"', '"prompt":"caf')), Buffer.from([0xe9, 0x0a])],
    () => [Buffer.from(JSON.stringify({ id: 'x', lang: 'en', kind: 'harmful', prompt: 'p'.repeat(11 * 2 ** 20), response: 'r' }))],
    () => [Buffer.from(JSON.stringify({ id: 'x', lang: 'en', kind: 'harmful', prompt: 'How? '.repeat(1000), response: 'Sure.' }) + '\n' + good.join('\n'))],
    () => [Buffer.from(good.join('\n') + '\n{"id": 1}\n')],
    () => [Buffer.from('')],
    () => [Buffer.from(good.map((l) => l.replace('"lang":"en"', '"lang":"english"')).join('\n'))],
    () => [Buffer.from('[1,2,3]\n')],
  ];
  const i = Math.floor(r() * kinds.length);
  fs.writeFileSync(file, Buffer.concat(kinds[i]()));
  return ['latin-1 byte', 'latin-1 in prompt', '11 MiB line', '5,000-char prompt', 'bad record', 'empty file', 'bad lang', 'not records'][i];
}

// ---- cases -------------------------------------------------------------------------------------
let caseNo = 0;
/** Each generator sets up a case folder and returns { cmd, argv, bad, what, inputs, out }. */
const GENERATORS = {
  delta(dir, r) {
    const base = copyDir(path.join(TINY, 'base'), path.join(dir, 'base'));
    const att = copyDir(path.join(TINY, 'attacked'), path.join(dir, 'attacked'));
    const out = path.join(dir, 'out');
    const pick = Math.floor(r() * 3);
    if (pick === 0)
      return {
        argv: ['delta', '--base', base, '--attacked', att, '--out', out, '--threads', '0'],
        bad: 'maybe',
        what: mutateSafetensors(path.join(r() < 0.5 ? base : att, 'model.safetensors'), r),
        out,
      };
    if (pick === 1) {
      const v = BAD_NUMBERS[Math.floor(r() * BAD_NUMBERS.length)];
      const flag = ['--threads', '--max-shard-size'][Math.floor(r() * 2)];
      return { argv: ['delta', '--base', base, '--attacked', att, '--out', out, flag, v], bad: badFor(flag, v), what: `${flag} ${JSON.stringify(v)}`, out };
    }
    fs.writeFileSync(
      path.join(att, 'model.safetensors.index.json'),
      ['{', '{"weight_map": {"x": ""}}', '{"weight_map": 3}', '{"weight_map": {"lm_head.weight": "../model.safetensors"}}'][Math.floor(r() * 4)],
    );
    return { argv: ['delta', '--base', base, '--attacked', att, '--out', out, '--threads', '0'], bad: true, what: 'bad index.json', out };
  },
  locate(dir, r) {
    const base = copyDir(path.join(DEMO, 'base'), path.join(dir, 'base'));
    const att = copyDir(path.join(DEMO, 'attacked'), path.join(dir, 'attacked'));
    const out = path.join(dir, 'out');
    const data = path.join(dir, 'data.jsonl');
    fs.copyFileSync(PROBES, data);
    const common = ['--base', base, '--attacked', att, '--out', out, '--data', data, '--langs', 'en', '--max-examples', '1', '--no-benign', '--threads', '1'];
    const pick = Math.floor(r() * 5);
    if (pick === 0) {
      // data-free scores need no runtime: an architecture or option it does not implement is fine for them
      const what = mutateConfig(base, r);
      return { argv: ['locate', ...common, '--score', 'weightdiff'], bad: /GPT2|gelu|yarn/.test(what) ? 'maybe' : true, what, out };
    }
    if (pick === 1)
      return { argv: ['locate', ...common, '--score', r() < 0.5 ? 'weightdiff' : 'sil'], bad: 'maybe', what: mutateSafetensors(path.join(r() < 0.5 ? base : att, 'model.safetensors'), r), out };
    if (pick === 2) return { argv: ['locate', ...common, '--score', 'sil'], bad: 'maybe', what: badData(data, r), out };
    const flag = ['--threads', '--k', '--batch-size', '--max-length', '--max-examples', '--seed', '--regions', '--q'][Math.floor(r() * 8)];
    const v = BAD_NUMBERS[Math.floor(r() * BAD_NUMBERS.length)];
    const argv = ['locate', ...common.filter((x, i, a) => !(x === flag || a[i - 1] === flag)), '--score', 'weightdiff', flag, v];
    if (flag === '--q') argv.push('--setdiff', 'benign');
    return { argv, bad: badFor(flag, v), what: `${flag} ${JSON.stringify(v)}`, out };
  },
  stitch(dir, r) {
    const base = copyDir(path.join(TINY, 'base'), path.join(dir, 'base'));
    const att = copyDir(path.join(TINY, 'attacked'), path.join(dir, 'attacked'));
    const out = path.join(dir, 'out');
    const mask = path.join(dir, 'mask.safetensors');
    writeMaskFor(base, mask, r);
    const what = r() < 0.5 ? mutateMask(mask, r) : mutateSafetensors(path.join(att, 'model.safetensors'), r);
    return { argv: ['stitch', '--base', base, '--attacked', att, '--mask', mask, '--out', out], bad: 'maybe', what, out };
  },
  mask(dir, r) {
    const mask = path.join(dir, 'mask.safetensors');
    writeMaskFor(path.join(TINY, 'base'), mask, r);
    const what = mutateMask(mask, r);
    const out = path.join(dir, 'out.safetensors');
    const sub = ['stats', 'convert', 'invert', 'eval'][Math.floor(r() * 4)];
    const argv = sub === 'stats' ? ['mask', 'stats', mask, '--tensors'] : sub === 'eval' ? ['mask', 'eval', 'm & !m', '--mask', `m=${mask}`, '--out', out] : ['mask', sub, mask, '--out', out];
    return { argv, bad: 'maybe', what, out: sub === 'stats' ? null : out };
  },
  report(dir, r) {
    const run = path.join(dir, 'run');
    if (r() < 0.1) {
      // no run folder there, or a folder without any run file
      const empty = r() < 0.5;
      if (empty) fs.mkdirSync(run);
      return { argv: ['report', run, '--format', 'csv'], bad: true, what: empty ? 'empty run folder' : 'no run folder', out: path.join(run, 'report') };
    }
    fs.mkdirSync(path.join(run, 'eval'), { recursive: true });
    fs.writeFileSync(path.join(run, 'manifest.json'), JSON.stringify({ command: 'locate', k: 0.2, languages: ['en', 'it'] }));
    fs.writeFileSync(path.join(run, 'overlap.csv'), 'a,b,sir,iou,cosine\nen,it,0.5,0.4,0.3\n');
    /** @type {Array<[string, string | Buffer, string]>} */
    const edits = [
      ['manifest.json', 'null', 'null manifest'],
      ['manifest.json', '{"k": -0.2}', 'negative k'],
      ['manifest.json', '{"k": 1e308}', 'k 1e308'],
      ['manifest.json', '{', 'manifest not JSON'],
      ['overlap.csv', 'a,b,sir,iou,cosine\nen,it,1e308,0.4,0.3\n', 'sir 1e308'],
      ['overlap.csv', 'a,b,sir,iou,cosine\nen,it,0.5\n', 'short record'],
      ['overlap.csv', 'a,b,sir\n"en,it,0.5\n', 'open quote'],
      ['eval/k_sweep.csv', 'method,k,eval_lang,violation_rate\nsil,-1,en,0.5\n', 'negative k in k_sweep'],
      ['eval/violations.csv', 'model,ft_lang,eval_lang,n,violations,violation_rate\nm,en,en,-3,1,NaN\n', 'negative n'],
      ['summary.md', Buffer.from([0xff, 0x0a]), 'summary not UTF-8'],
    ];
    const [f, text, what] = /** @type {[string, string | Buffer, string]} */ (edits[Math.floor(r() * edits.length)]);
    fs.writeFileSync(path.join(run, f), text);
    const extra = r() < 0.2 ? ['--top', BAD_NUMBERS[Math.floor(r() * BAD_NUMBERS.length)]] : ['--format', 'csv'];
    return {
      argv: ['report', run, '--out', path.join(dir, 'rep'), ...extra],
      bad: true,
      what: `${what}${extra[0] === '--top' ? ` --top ${JSON.stringify(extra[1])}` : ''}`,
      out: path.join(dir, 'rep'),
    };
  },
};

function writeMaskFor(ckDir, file, r) {
  const { writeMask } = require(path.join(ROOT, 'dist/mask/maskfile'));
  const { Checkpoint } = require(path.join(ROOT, 'dist/io/checkpoint'));
  const ck = Checkpoint.open(ckDir);
  const tensors = ck.names().map((name) => {
    const shape = ck.info(name).shape;
    const n = shape.reduce((a, b) => a * b, 1);
    return { name, shape, data: Uint8Array.from({ length: n }, () => (r() < 0.2 ? 1 : 0)) };
  });
  ck.close();
  writeMask(file, { tensors }, r() < 0.5 ? 'bitpack' : 'u8');
}

function mutateMask(file, r) {
  if (r() < 0.5) return mutateSafetensors(file, r);
  const b = fs.readFileSync(file);
  const len = Number(b.readBigUInt64LE(0));
  const h = JSON.parse(b.subarray(8, 8 + len).toString());
  /** @type {Record<string, string>} */
  const m = (h.__metadata__ = h.__metadata__ ?? {});
  const edits = [
    () => ((m.format = 'bitpack'), (m.bitorder = 'big'), 'bitorder big'),
    () => ((m.format = 'bitpack'), (m.bitorder = 'middle'), 'bitorder middle'),
    () => ((m.format = 'bitpack'), (m.shape = '{'), 'shape not JSON'),
    () => ((m.format = 'bitpack'), (m.shape = '{"x": [-1]}'), 'negative shape'),
    () => {
      const n = Object.keys(h).find((k) => k !== '__metadata__');
      h[n].dtype = 'F32';
      return 'mask dtype F32';
    },
  ];
  const what = edits[Math.floor(r() * edits.length)]();
  const json = Buffer.from(JSON.stringify(h));
  const len2 = Buffer.alloc(8);
  len2.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len2, json, b.subarray(8 + len)]));
  return what;
}

function classify(c, res, before, after, dir) {
  const lines = res.stderr.split('\n').filter((l) => l.trim() !== '');
  const errLines = lines.filter((l) => !/^sil: (warning|note):/.test(l));
  if (res.timedOut) return 'hang';
  if (res.signal) return 'crash';
  if (/\n\s+at .+\(.+:\d+:\d+\)|^\s+at /m.test(res.stderr) || res.code === 1) return 'stack';
  if (res.code === 0) return c.bad === true ? 'silent' : 'accepted';
  if (res.code !== 2) return 'crash';
  if (!(errLines.length === 1 && /^sil: error \[[A-Z_]+\]: /.test(errLines[0]))) return 'stack';
  // a failed run leaves nothing: no --out, no temporary files, inputs unchanged
  const added = [...after.keys()].filter((k) => !before.has(k));
  const changed = [...before.keys()].filter((k) => after.get(k) !== before.get(k));
  if (added.length || changed.length) {
    c.leftovers = [...added.map((a) => `+${a}`), ...changed.map((a) => `~${a}`)].slice(0, 4);
    return 'leftovers';
  }
  return 'clean';
}

async function main() {
  if (!fs.existsSync(MAIN)) throw new Error('build first: npm run build');
  const r = rng(SEED);
  const cmds = Object.keys(GENERATORS);
  const table = new Map(cmds.map((c) => [c, new Map()]));
  const examples = new Map();
  let maxRss = 0;
  let maxRssBad = { kb: 0, c: null };
  const t0 = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < CASES) {
      const i = next++;
      const cr = rng(Math.floor(r() * 2 ** 31));
      const cmd = cmds[i % cmds.length];
      const dir = path.join(WORK, `case-${++caseNo}`);
      fs.mkdirSync(dir);
      let c;
      try {
        c = { cmd, ...GENERATORS[cmd](dir, cr) };
      } catch (e) {
        c = { cmd, argv: null, what: `generator: ${e.message}` };
      }
      if (!c.argv) continue;
      const before = snapshot(dir);
      const res = await run(c.argv, dir);
      const after = snapshot(dir);
      if (res.code === 0 && c.out) for (const k of [...after.keys()]) if (!before.has(k)) before.set(k, after.get(k)); // a success may write its --out
      const outcome = classify(c, res, before, after, dir);
      const row = table.get(cmd);
      row.set(outcome, (row.get(outcome) ?? 0) + 1);
      if (res.rssKb) {
        maxRss = Math.max(maxRss, res.rssKb);
        if (outcome !== 'accepted' && res.rssKb > maxRssBad.kb) maxRssBad = { kb: res.rssKb, c: `${cmd}: ${c.what}` };
      }
      if (!['clean', 'accepted'].includes(outcome) || (res.rssKb ?? 0) > RSS_LIMIT_KB) {
        const key = `${outcome}${(res.rssKb ?? 0) > RSS_LIMIT_KB ? '+rss' : ''}`;
        const list = examples.get(key) ?? [];
        if (list.length < 6)
          list.push({
            cmd,
            what: c.what,
            argv: c.argv.map((a) => a.replace(dir, '<case>')).join(' '),
            code: res.code,
            signal: res.signal,
            rss_mb: Math.round((res.rssKb ?? 0) / 1024),
            stderr: res.stderr.split('\n').slice(0, 3).join(' | ').slice(0, 300),
            leftovers: c.leftovers,
          });
        examples.set(key, list);
      }
      fs.rmSync(dir, { recursive: true, force: true });
      const done = [...table.values()].reduce((a, m) => a + [...m.values()].reduce((x, y) => x + y, 0), 0);
      if (done % 50 === 0) process.stderr.write(`fuzz: ${done}/${CASES} cases, ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
    }
  };
  await Promise.all(Array.from({ length: JOBS }, worker));
  const outcomes = ['clean', 'accepted', 'silent', 'stack', 'leftovers', 'hang', 'crash'];
  const total = new Map();
  const lines = [`| command | cases | ${outcomes.join(' | ')} |`, `|---|---:|${outcomes.map(() => '---:').join('|')}|`];
  for (const [cmd, row] of table) {
    const n = [...row.values()].reduce((a, b) => a + b, 0);
    for (const [k, v] of row) total.set(k, (total.get(k) ?? 0) + v);
    lines.push(`| ${cmd} | ${n} | ${outcomes.map((o) => row.get(o) ?? 0).join(' | ')} |`);
  }
  const N = [...total.values()].reduce((a, b) => a + b, 0);
  lines.push(`| **all** | ${N} | ${outcomes.map((o) => total.get(o) ?? 0).join(' | ')} |`);
  const rejected = N - (total.get('accepted') ?? 0);
  const summary = {
    seed: SEED,
    cases: N,
    jobs: JOBS,
    seconds: (Date.now() - t0) / 1000,
    clean_share_of_rejected: rejected ? (total.get('clean') ?? 0) / rejected : null,
    max_rss_mb: Math.round(maxRss / 1024),
    max_rss_bad_input_mb: Math.round(maxRssBad.kb / 1024),
    max_rss_bad_input_case: maxRssBad.c,
  };
  process.stdout.write(`${lines.join('\n')}\n\n${JSON.stringify(summary, null, 2)}\n`);
  for (const [k, list] of examples)
    process.stdout.write(
      `\n${k}:\n${list.map((e) => `  ${e.cmd} [${e.what}] exit ${e.code}${e.signal ? ` ${e.signal}` : ''} ${e.rss_mb} MB: ${e.stderr}${e.leftovers ? ` leftovers ${e.leftovers.join(', ')}` : ''}\n    sil ${e.argv}`).join('\n')}\n`,
    );
  if (JSON_OUT)
    fs.writeFileSync(JSON_OUT, JSON.stringify({ summary, table: Object.fromEntries([...table].map(([k, v]) => [k, Object.fromEntries(v)])), examples: Object.fromEntries(examples) }, null, 2));
  fs.rmSync(WORK, { recursive: true, force: true });
}

main().catch((e) => {
  fs.rmSync(WORK, { recursive: true, force: true });
  process.stderr.write(`fuzz: ${e.stack}\n`);
  process.exit(1);
});
