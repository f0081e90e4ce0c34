/** sil locate rejects bad input with a SilError, exit code 2, and writes nothing. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HF_TINY } from '../helpers/fixtures';
import { copyWithTokenizer, REPO, sil } from './helpers';

const LLAMA = path.join(HF_TINY, 'llama3-tiny-bf16');
const QWEN = path.join(HF_TINY, 'qwen2-tiny-bf16-sharded');
const TINY = path.join(REPO, 'weights/tiny');

let tmp: string;
let tiny: { base: string; attacked: string };
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-locate-bad-'));
  tiny = { base: copyWithTokenizer(path.join(TINY, 'base'), path.join(tmp, 'base')), attacked: copyWithTokenizer(path.join(TINY, 'attacked'), path.join(tmp, 'attacked')) };
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function expectRejected(code: string, args: string[], message?: RegExp): void {
  const out = path.join(tmp, 'out');
  const r = sil('locate', ...args, '--out', out);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(new RegExp(`^sil: error \\[${code}\\]`));
  if (message) expect(r.stderr).toMatch(message);
  expect(r.code).toBe(2);
  expect(fs.existsSync(out)).toBe(false);
}

describe('sil locate on bad input', () => {
  it('rejects a base and attacked pair whose tensors differ', () => {
    expectRejected('CHECKPOINT_MISMATCH', ['--base', path.join(LLAMA, 'base'), '--attacked', path.join(QWEN, 'attacked'), '--score', 'weightdiff']);
  });

  it('rejects a malformed config.json before any work, even for a data-free score', () => {
    const base = path.join(tmp, 'badcfg');
    fs.mkdirSync(base);
    for (const f of fs.readdirSync(tiny.base)) fs.copyFileSync(path.join(tiny.base, f), path.join(base, f));
    const c = JSON.parse(fs.readFileSync(path.join(base, 'config.json'), 'utf8'));
    fs.writeFileSync(path.join(base, 'config.json'), JSON.stringify({ ...c, rms_norm_eps: -1 }));
    expectRejected(
      'INVALID_CONFIG',
      ['--base', base, '--attacked', tiny.attacked, '--score', 'weightdiff', '--langs', 'en', '--no-benign'],
      /"rms_norm_eps" must be a positive number up to 1, found -1/,
    );
    fs.writeFileSync(path.join(base, 'config.json'), JSON.stringify({ ...c, num_hidden_layers: 1 }));
    expectRejected(
      'INVALID_CONFIG',
      ['--base', base, '--attacked', tiny.attacked, '--score', 'weightdiff', '--langs', 'en', '--no-benign'],
      /"num_hidden_layers" is 1, but the checkpoint stores 2 decoder layers/,
    );
  });

  it('rejects --threads beyond 4 × cores before starting any worker', () => {
    expectRejected('INVALID_ARGUMENT', ['--base', tiny.base, '--attacked', tiny.attacked, '--threads', '1000000000'], /--threads 1000000000 is more than 4 ×/);
  });

  it('rejects k outside (0, 1]', () => {
    for (const k of ['0', '1.5', '-0.1', 'abc']) expectRejected('INVALID_ARGUMENT', ['--base', tiny.base, '--attacked', tiny.attacked, '--k', k], /--k must be a fraction in \(0, 1\]/);
  });

  it('rejects a language the dataset does not have', () => {
    expectRejected('INVALID_DATA', ['--base', tiny.base, '--attacked', tiny.attacked, '--langs', 'en,xx'], /no harmful prompts in language\(s\) xx/);
  });

  it('rejects an empty calibration set (a file without harmful prompts)', () => {
    const data = path.join(tmp, 'benign-only.jsonl');
    fs.writeFileSync(data, JSON.stringify({ id: 'bread', lang: 'en', kind: 'benign', prompt: 'How do I bake bread?', response: 'Mix flour, water, salt and yeast.' }) + '\n');
    expectRejected('INVALID_DATA', ['--base', tiny.base, '--attacked', tiny.attacked, '--data', data], /no harmful prompts/);
  });

  it('rejects a gradient file whose shapes do not match the checkpoint', () => {
    expectRejected('CHECKPOINT_MISMATCH', ['--base', path.join(LLAMA, 'base'), '--attacked', path.join(LLAMA, 'attacked'), '--grads', path.join(QWEN, 'golden.safetensors'), '--langs', 'en']);
  });

  it('rejects a checkpoint without a tokenizer when gradients must be computed', () => {
    expectRejected('FILE_NOT_FOUND', ['--base', path.join(TINY, 'base'), '--attacked', path.join(TINY, 'attacked'), '--langs', 'en'], /tokenizer/);
  });

  it('rejects unknown scores, scopes and selection units', () => {
    expectRejected('INVALID_ARGUMENT', ['--base', tiny.base, '--attacked', tiny.attacked, '--score', 'magic']);
    expectRejected('INVALID_ARGUMENT', ['--base', tiny.base, '--attacked', tiny.attacked, '--scope', 'heads']);
    expectRejected('INVALID_ARGUMENT', ['--base', tiny.base, '--attacked', tiny.attacked, '--per', 'layer']);
  });

  it('says the demo pair is missing when no checkpoints are given and the package has no weights/demo', () => {
    // A copy of the built package without weights/: the CLI looks for the demo pair beside its dist/.
    const pkg = path.join(tmp, 'package-without-demo');
    fs.cpSync(path.join(REPO, 'dist'), path.join(pkg, 'dist'), { recursive: true });
    fs.copyFileSync(path.join(REPO, 'package.json'), path.join(pkg, 'package.json'));
    fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(pkg, 'node_modules'), 'dir');
    const out = path.join(tmp, 'out');
    const r = spawnSync(process.execPath, [path.join(pkg, 'dist/cli/main.js'), 'locate', '--out', out], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^sil: error \[FILE_NOT_FOUND\]/);
    expect(r.stderr).toMatch(/demo pair is missing/);
    expect(r.stderr).toContain(path.join(pkg, 'weights/demo/base'));
    expect(r.status).toBe(2);
    expect(fs.existsSync(out)).toBe(false);
  });
});
