/**
 * Output-path safety for every command that writes: an --out that is, contains or lies inside an
 * input (after symlinks), an existing file where a folder is meant (or the reverse), an empty
 * --out, and replacing only with --force a folder that sil created. Every refusal leaves the inputs
 * byte-identical and writes nothing.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runSil as sil } from '../helpers/cli';
import { checkOutputPath, MARKER_FILE, prepareOutputDir, prepareOutputFile, readMarker } from '../../src/io/outpath';
import { writeMask } from '../../src/mask/maskfile';
import { Checkpoint } from '../../src/io/checkpoint';
import { writeSyntheticRun } from '../report/synthetic-run';
import { tmpDir, writeTinyPair } from '../score/tiny-pair';

/** sha256 of every file under `p` (or of `p` itself), by relative path. */
function snapshot(p: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (f: string, rel: string) => {
    const st = fs.lstatSync(f);
    if (st.isDirectory()) for (const e of fs.readdirSync(f).sort()) walk(path.join(f, e), rel ? `${rel}/${e}` : e);
    else out[rel || '.'] = st.isSymbolicLink() ? `link:${fs.readlinkSync(f)}` : createHash('sha256').update(fs.readFileSync(f)).digest('hex');
  };
  walk(p, '');
  return out;
}

function expectRefused(r: { code: number; err: string }, code: string): void {
  expect(r.code).toBe(2);
  expect(r.err).toMatch(new RegExp(`^sil: error \\[${code}\\]`));
  expect(r.err.trim().split('\n')).toHaveLength(1);
}

let tmp: string;
let pair: { base: string; attacked: string };
let mask: string;
beforeEach(() => {
  tmp = tmpDir('outpath');
  pair = writeTinyPair(tmp, (_n, _s, v) => {
    for (let i = 0; i < v.length; i += 3) v[i] += 1 / 128;
  });
  const b = Checkpoint.open(pair.base);
  writeMask(path.join(tmp, 'm.safetensors'), { tensors: b.names().map((name) => ({ name, shape: b.info(name).shape, data: Uint8Array.from({ length: b.info(name).numel }, (_, i) => i % 2) })) });
  b.close();
  mask = path.join(tmp, 'm.safetensors');
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('the output-path rules', () => {
  it('refuses an empty --out, an --out equal to, inside or containing an input, and one under a file', () => {
    const file = path.join(tmp, 'notes.txt');
    fs.writeFileSync(file, 'x');
    const check = (out: string, inputs: string[], kind: 'dir' | 'file' = 'dir') => {
      try {
        checkOutputPath({ out, kind, inputs });
        return 'ok';
      } catch (e) {
        return (e as { code: string }).code;
      }
    };
    expect(check('', [pair.base])).toBe('INVALID_ARGUMENT');
    expect(check('  ', [pair.base])).toBe('INVALID_ARGUMENT');
    expect(check(pair.base, [pair.base])).toBe('OUTPUT_IS_INPUT');
    expect(check(path.join(pair.base, 'sub'), [pair.base])).toBe('OUTPUT_IS_INPUT');
    expect(check(tmp, [pair.base])).toBe('OUTPUT_IS_INPUT');
    expect(check(pair.base + '/../base/', [pair.base])).toBe('OUTPUT_IS_INPUT');
    expect(check(path.join(file, 'out'), [])).toBe('OUTPUT_NOT_A_FOLDER');
    expect(check(file, [])).toBe('OUTPUT_NOT_A_FOLDER');
    expect(check(tmp, [], 'file')).toBe('OUTPUT_IS_A_FOLDER');
    expect(check(path.join(tmp, 'base2'), [pair.base])).toBe('ok');
    // a per-language pattern stands for its folder
    expect(check(path.join(tmp, 'g', 'x'), [path.join(tmp, 'g', '{lang}.safetensors')])).toBe('OUTPUT_IS_INPUT');
  });

  it('resolves symlinks: an --out through a link to an input, or a link inside one, is the input', () => {
    const link = path.join(tmp, 'link-to-base');
    fs.symlinkSync(pair.base, link);
    expect(() => checkOutputPath({ out: link, kind: 'dir', inputs: [pair.base] })).toThrow(expect.objectContaining({ code: 'OUTPUT_IS_INPUT' }));
    expect(() => checkOutputPath({ out: path.join(link, 'new'), kind: 'dir', inputs: [pair.base] })).toThrow(expect.objectContaining({ code: 'OUTPUT_IS_INPUT' }));
    expect(() => checkOutputPath({ out: path.join(tmp, 'elsewhere'), kind: 'dir', inputs: [link] })).not.toThrow();
    expect(() => checkOutputPath({ out: pair.base, kind: 'dir', inputs: [link] })).toThrow(expect.objectContaining({ code: 'OUTPUT_IS_INPUT' }));
  });

  it('replaces a non-empty folder only with force, and only one that carries the sil marker', () => {
    const mine = path.join(tmp, 'mine');
    fs.mkdirSync(mine);
    fs.writeFileSync(path.join(mine, 'x'), '1');
    expect(() => prepareOutputDir({ out: mine, kind: 'dir', inputs: [], force: true })).toThrow(expect.objectContaining({ code: 'OUTPUT_EXISTS' }));
    fs.writeFileSync(path.join(mine, MARKER_FILE), JSON.stringify({ sil_output: 1, command: 'stitch', version: '0', created: '' }));
    expect(() => prepareOutputDir({ out: mine, kind: 'dir', inputs: [] })).toThrow(expect.objectContaining({ code: 'OUTPUT_EXISTS' }));
    expect(prepareOutputDir({ out: mine, kind: 'dir', inputs: [], force: true }).replace).toBe(true);
    fs.mkdirSync(path.join(tmp, 'empty'));
    expect(prepareOutputDir({ out: path.join(tmp, 'empty'), kind: 'dir', inputs: [] }).replace).toBe(false);
    const f = path.join(tmp, 'f.bin');
    fs.writeFileSync(f, 'x');
    expect(() => prepareOutputFile({ out: f, inputs: [] })).toThrow(expect.objectContaining({ code: 'OUTPUT_EXISTS' }));
    expect(prepareOutputFile({ out: f, inputs: [], force: true })).toBe(fs.realpathSync(f));
  });
});

describe('sil report', () => {
  let run: string;
  beforeEach(() => {
    run = path.join(tmp, 'runs', 'r1');
    writeSyntheticRun(run, { withEval: true });
  });

  it('refuses --out equal to the run folder and leaves every run file byte-identical', async () => {
    const before = snapshot(tmp);
    expectRefused(await sil('report', run, '--out', run, '--format', 'csv'), 'OUTPUT_IS_INPUT');
    expect(snapshot(tmp)).toEqual(before);
  });

  it('refuses a parent folder of the run (which holds checkpoints too) and deletes nothing', async () => {
    const before = snapshot(tmp);
    expectRefused(await sil('report', run, '--out', tmp, '--format', 'csv', '--force'), 'OUTPUT_IS_INPUT');
    expectRefused(await sil('report', run, '--out', path.join(tmp, 'runs'), '--format', 'csv', '--force'), 'OUTPUT_IS_INPUT');
    expect(snapshot(tmp)).toEqual(before);
  });

  it('refuses a subfolder that holds files it reads (delta/, eval/)', async () => {
    const before = snapshot(tmp);
    expectRefused(await sil('report', run, '--out', path.join(run, 'delta'), '--format', 'csv', '--force'), 'OUTPUT_IS_INPUT');
    expectRefused(await sil('report', run, '--out', path.join(run, 'eval'), '--format', 'csv', '--force'), 'OUTPUT_IS_INPUT');
    expect(snapshot(tmp)).toEqual(before);
  });

  it('refuses an existing file as --out and keeps the file', async () => {
    const file = path.join(tmp, 'keep.txt');
    fs.writeFileSync(file, 'precious');
    const before = snapshot(tmp);
    expectRefused(await sil('report', run, '--out', file, '--format', 'csv', '--force'), 'OUTPUT_NOT_A_FOLDER');
    expectRefused(await sil('report', run, '--out', '', '--format', 'csv'), 'INVALID_ARGUMENT');
    expect(snapshot(tmp)).toEqual(before);
  });

  it('writes <run>/report by default, and replaces it only with --force', async () => {
    const runFiles = snapshot(run);
    expect((await sil('report', run, '--format', 'csv')).code).toBe(0);
    expect(readMarker(path.join(run, 'report'))?.command).toBe('report');
    const first = snapshot(path.join(run, 'report'));
    expectRefused(await sil('report', run, '--format', 'csv'), 'OUTPUT_EXISTS');
    expect(snapshot(path.join(run, 'report'))).toEqual(first);
    expect((await sil('report', run, '--format', 'csv', '--force')).code).toBe(0);
    const after = snapshot(run);
    for (const [f, h] of Object.entries(runFiles)) expect({ f, h: after[f] }).toEqual({ f, h });
  });

  it('does not replace, even with --force, a folder that sil did not create', async () => {
    const theirs = path.join(tmp, 'theirs');
    fs.mkdirSync(theirs);
    fs.writeFileSync(path.join(theirs, 'thesis.tex'), 'chapter 1');
    const before = snapshot(tmp);
    expectRefused(await sil('report', run, '--out', theirs, '--format', 'csv', '--force'), 'OUTPUT_EXISTS');
    expect(snapshot(tmp)).toEqual(before);
  });
});

describe('sil stitch', () => {
  it('refuses --out equal to the base with --force and leaves base/model.safetensors byte-identical', async () => {
    const before = snapshot(tmp);
    expectRefused(await sil('stitch', '--base', pair.base, '--attacked', pair.attacked, '--mask', mask, '--out', pair.base, '--force'), 'OUTPUT_IS_INPUT');
    expectRefused(await sil('stitch', '--base', pair.base, '--attacked', pair.attacked, '--mask', mask, '--out', pair.attacked, '--force'), 'OUTPUT_IS_INPUT');
    expectRefused(await sil('stitch', '--base', pair.base, '--attacked', pair.attacked, '--mask', mask, '--out', path.join(pair.base, 'stitched'), '--force'), 'OUTPUT_IS_INPUT');
    expectRefused(await sil('stitch', '--base', pair.base, '--attacked', pair.attacked, '--mask', mask, '--out', tmp, '--force'), 'OUTPUT_IS_INPUT');
    expectRefused(await sil('stitch', '--base', pair.base, '--attacked', pair.attacked, '--mask', mask, '--out', mask, '--force'), 'OUTPUT_IS_INPUT');
    expect(snapshot(tmp)).toEqual(before);
  });

  it('refuses --out through a symlink to the base', async () => {
    const link = path.join(tmp, 'alias');
    fs.symlinkSync(pair.base, link);
    const before = snapshot(tmp);
    expectRefused(await sil('stitch', '--base', pair.base, '--attacked', pair.attacked, '--mask', mask, '--out', link, '--force'), 'OUTPUT_IS_INPUT');
    expect(snapshot(tmp)).toEqual(before);
  });

  it('replaces its own earlier output with --force, not a checkpoint folder it did not write', async () => {
    const out = path.join(tmp, 'stitched');
    expect((await sil('stitch', '--base', pair.base, '--attacked', pair.attacked, '--mask', mask, '--out', out)).code).toBe(0);
    expect(readMarker(out)?.command).toBe('stitch');
    expectRefused(await sil('stitch', '--base', pair.base, '--attacked', pair.attacked, '--mask', mask, '--out', out), 'OUTPUT_EXISTS');
    expect((await sil('stitch', '--base', pair.base, '--attacked', pair.attacked, '--mask', mask, '--out', out, '--force')).code).toBe(0);
    const other = path.join(tmp, 'other-ckpt');
    fs.cpSync(pair.base, other, { recursive: true });
    const before = snapshot(other);
    expectRefused(await sil('stitch', '--base', pair.base, '--attacked', pair.attacked, '--mask', mask, '--out', other, '--force'), 'OUTPUT_EXISTS');
    expect(snapshot(other)).toEqual(before);
  });
});

describe('sil delta', () => {
  it('refuses --out equal to or inside an input folder, and an empty --out, writing nothing', async () => {
    const cwd = process.cwd();
    const before = snapshot(tmp);
    process.chdir(tmp);
    try {
      expectRefused(await sil('delta', '--base', pair.base, '--attacked', pair.attacked, '--out', pair.base), 'OUTPUT_IS_INPUT');
      expectRefused(await sil('delta', '--base', pair.base, '--attacked', pair.attacked, '--out', path.join(pair.attacked, 'delta')), 'OUTPUT_IS_INPUT');
      expectRefused(await sil('delta', '--base', pair.base, '--attacked', pair.attacked, '--out', ''), 'INVALID_ARGUMENT');
      expectRefused(await sil('delta', '--base', pair.base, '--attacked', pair.attacked, '--out', '.'), 'OUTPUT_IS_INPUT');
    } finally {
      process.chdir(cwd);
    }
    expect(snapshot(tmp)).toEqual(before);
  });

  it('overwrites its own output folder only with --force', async () => {
    const out = path.join(tmp, 'd');
    expect((await sil('delta', '--base', pair.base, '--attacked', pair.attacked, '--out', out, '--json')).code).toBe(0);
    const first = snapshot(out);
    expectRefused(await sil('delta', '--base', pair.base, '--attacked', pair.attacked, '--out', out, '--json'), 'OUTPUT_EXISTS');
    expect(snapshot(out)).toEqual(first);
    expect((await sil('delta', '--base', pair.base, '--attacked', pair.attacked, '--out', out, '--json', '--force')).code).toBe(0);
    expect(Object.keys(snapshot(out)).sort()).toEqual(Object.keys(first).sort());
  });
});

describe('sil locate', () => {
  const locate = (out: string, ...more: string[]) =>
    sil('locate', '--base', pair.base, '--attacked', pair.attacked, '--score', 'weightdiff', '--scope', 'all', '--langs', 'en', '--no-benign', '--out', out, '--json', ...more);

  it('refuses --out equal to, inside or containing an input, and an empty --out, writing nothing', async () => {
    const data = path.join(tmp, 'data', 'probes.jsonl');
    fs.mkdirSync(path.dirname(data));
    fs.writeFileSync(data, JSON.stringify({ id: 'a', lang: 'en', kind: 'harmful', prompt: 'p', response: 'r' }) + '\n');
    const before = snapshot(tmp);
    expectRefused(await locate(pair.base), 'OUTPUT_IS_INPUT');
    expectRefused(await locate(pair.attacked), 'OUTPUT_IS_INPUT');
    expectRefused(await locate(path.join(pair.base, 'run')), 'OUTPUT_IS_INPUT');
    expectRefused(await locate(tmp), 'OUTPUT_IS_INPUT');
    expectRefused(await locate(path.join(tmp, 'data'), '--data', data), 'OUTPUT_IS_INPUT');
    expectRefused(await locate(''), 'INVALID_ARGUMENT');
    expectRefused(await locate(mask), 'OUTPUT_NOT_A_FOLDER');
    expect(snapshot(tmp)).toEqual(before);
  });

  it('refuses a folder without the sil marker that holds run outputs, even with --force', async () => {
    const old = path.join(tmp, 'old-run');
    fs.mkdirSync(path.join(old, 'masks'), { recursive: true });
    fs.writeFileSync(path.join(old, 'manifest.json'), '{}');
    const before = snapshot(tmp);
    expectRefused(await locate(old, '--force'), 'OUTPUT_EXISTS');
    expect(snapshot(tmp)).toEqual(before);
  });

  it('re-runs with the same options without --force; other options need --force, which removes the stale report and eval rows of its masks but keeps the files the user added', async () => {
    const run = path.join(tmp, 'run');
    expect((await locate(run)).code).toBe(0);
    expect((await locate(run)).code).toBe(0);
    // derived outputs and a user's file
    expect((await sil('report', run, '--format', 'csv')).code).toBe(0);
    expect((await sil('mask', 'eval', 'en & !random', '--dir', path.join(run, 'masks'), '--out', path.join(run, 'masks', 'agnostic.safetensors'))).code).toBe(0);
    fs.writeFileSync(path.join(run, 'notes.md'), 'mine');
    const stitched = path.join(tmp, 'stitched-en');
    expect((await sil('stitch', '--base', pair.base, '--attacked', pair.attacked, '--mask', path.join(run, 'masks', 'en.safetensors'), '--out', stitched)).code).toBe(0);
    fs.mkdirSync(path.join(run, 'eval'));
    fs.writeFileSync(path.join(run, 'eval', 'violations.csv'), 'model,ft_lang,eval_lang,n,violations,violation_rate\nbase,none,en,4,1,0.25\nstitched-en,en,en,4,3,0.75\n');
    fs.writeFileSync(
      path.join(run, 'eval', MARKER_FILE),
      JSON.stringify({
        sil_output: 1,
        command: 'eval',
        version: '0',
        created: '',
        models: { base: { model: pair.base, mask: null }, 'stitched-en': { model: stitched, mask: path.join(fs.realpathSync(run), 'masks', 'en.safetensors') } },
      }),
    );
    const agnostic = fs.readFileSync(path.join(run, 'masks', 'agnostic.safetensors'));
    const before = snapshot(run);

    expectRefused(await locate(run, '--k', '0.05'), 'OUTPUT_EXISTS');
    expect(snapshot(run)).toEqual(before);

    const r = await locate(run, '--k', '0.05', '--force');
    expect(r.code).toBe(0);
    const m = JSON.parse(r.out);
    expect(m.k).toBe(0.05);
    expect(fs.existsSync(path.join(run, 'report'))).toBe(false);
    expect(r.err).toMatch(/removed report\//);
    expect(fs.readFileSync(path.join(run, 'eval', 'violations.csv'), 'utf8')).toBe('model,ft_lang,eval_lang,n,violations,violation_rate\nbase,none,en,4,1,0.25\n');
    expect(r.err).toMatch(/eval\/ rows of stitched-en/);
    expect(fs.readFileSync(path.join(run, 'masks', 'agnostic.safetensors')).equals(agnostic)).toBe(true);
    expect(fs.readFileSync(path.join(run, 'notes.md'), 'utf8')).toBe('mine');
  });
});

describe('sil mask, sil finetune and sil grad', () => {
  it('mask convert/invert/eval refuse a folder as --out, their own input, and an existing file without --force', async () => {
    fs.mkdirSync(path.join(tmp, 'masks-dir'));
    const before = snapshot(tmp);
    expectRefused(await sil('mask', 'convert', mask, '--out', path.join(tmp, 'masks-dir')), 'OUTPUT_IS_A_FOLDER');
    expectRefused(await sil('mask', 'convert', mask, '--out', tmp), 'OUTPUT_IS_INPUT');
    expectRefused(await sil('mask', 'invert', mask, '--out', mask, '--force'), 'OUTPUT_IS_INPUT');
    expectRefused(await sil('mask', 'eval', 'm & m', '--dir', tmp, '--out', mask, '--force'), 'OUTPUT_IS_INPUT');
    expectRefused(await sil('mask', 'convert', mask, '--out', path.join(pair.base, 'model.safetensors')), 'OUTPUT_EXISTS');
    expect(snapshot(tmp)).toEqual(before);
    const out = path.join(tmp, 'inv.safetensors');
    expect((await sil('mask', 'invert', mask, '--out', out)).code).toBe(0);
    expectRefused(await sil('mask', 'invert', mask, '--out', out), 'OUTPUT_EXISTS');
    expect((await sil('mask', 'invert', mask, '--out', out, '--force')).code).toBe(0);
  });

  it('finetune refuses --out equal to or inside the model before any training, and grad refuses its batch file as --out', async () => {
    const data = path.join(tmp, 'd.jsonl');
    fs.writeFileSync(data, JSON.stringify({ id: 'a', lang: 'en', kind: 'harmful', prompt: 'p', response: 'r' }) + '\n');
    const batch = path.join(tmp, 'batch.json');
    fs.writeFileSync(batch, JSON.stringify({ input_ids: [[1, 2]], labels: [[1, 2]] }));
    const before = snapshot(tmp);
    expectRefused(await sil('finetune', '--model', pair.base, '--data', data, '--out', pair.base, '--force'), 'OUTPUT_IS_INPUT');
    expectRefused(await sil('finetune', '--model', pair.base, '--data', data, '--out', path.join(pair.base, 'ft')), 'OUTPUT_IS_INPUT');
    expectRefused(await sil('finetune', '--model', pair.base, '--data', data, '--out', data, '--force'), 'OUTPUT_IS_INPUT');
    expectRefused(await sil('grad', '--model', pair.base, '--batch', batch, '--out', batch, '--force'), 'OUTPUT_IS_INPUT');
    expectRefused(await sil('grad', '--model', pair.base, '--batch', batch, '--out', path.join(pair.base, 'model.safetensors'), '--force'), 'OUTPUT_IS_INPUT');
    expect(snapshot(tmp)).toEqual(before);
  });

  it('eval refuses an --out that is a file, or whose eval/ folder is an input', async () => {
    const prompts = path.join(tmp, 'p.jsonl');
    fs.writeFileSync(prompts, JSON.stringify({ id: 'a', lang: 'en', kind: 'harmful', prompt: 'p', response: 'r' }) + '\n');
    const before = snapshot(tmp);
    expectRefused(await sil('eval', '--model', pair.base, '--prompts', prompts, '--out', prompts), 'OUTPUT_NOT_A_FOLDER');
    expectRefused(await sil('eval', '--model', pair.base, '--prompts', prompts, '--out', ''), 'INVALID_ARGUMENT');
    const nested = path.join(tmp, 'x', 'eval');
    fs.cpSync(pair.base, nested, { recursive: true });
    const nestedBefore = snapshot(tmp);
    expectRefused(await sil('eval', '--model', nested, '--prompts', prompts, '--out', path.join(tmp, 'x')), 'OUTPUT_IS_INPUT');
    expect(snapshot(tmp)).toEqual(nestedBefore);
    fs.rmSync(path.join(tmp, 'x'), { recursive: true });
    expect(snapshot(tmp)).toEqual(before);
  });
});
