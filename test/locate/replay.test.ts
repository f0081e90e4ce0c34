/**
 * Provenance of a locate run: the manifest's content hashes (checkpoint tensor data, data file,
 * tokenizer), command line and package; `sil locate --replay` re-running a run from its manifest and
 * checking the masks byte for byte, and refusing when an input changed.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Checkpoint } from '../../src/io/checkpoint';
import { pairArgs, REPO, sil } from './helpers';
import type { LocateManifest } from '../../src/locate/manifest';

const DEMO = path.join(REPO, 'weights/demo');
const have = fs.existsSync(path.join(DEMO, 'base/model.safetensors'));
const maybe = have ? describe : describe.skip;
const sha = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');

maybe(`sil locate provenance and --replay${have ? '' : ' [skipped: weights/demo is not built]'}`, () => {
  let tmp: string;
  let run: string;
  let data: string;
  let manifest: LocateManifest;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-replay-'));
    data = path.join(tmp, 'probes.jsonl');
    fs.copyFileSync(path.join(REPO, 'data/demo-probes.jsonl'), data);
    run = path.join(tmp, 'run');
    const r = sil('locate', ...pairArgs(DEMO), '--data', data, '--langs', 'en,it', '--max-examples', '3', '--no-benign', '--threads', '1', '--out', run, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    manifest = JSON.parse(fs.readFileSync(path.join(run, 'manifest.json'), 'utf8'));
  }, 300000);
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('the manifest tells base and attacked apart by the hash of their tensor data, and records data, tokenizer, command line and version', () => {
    const { base, attacked, tokenizer, data: d } = manifest.inputs;
    expect(base.header_sha256).toBe(attacked.header_sha256);
    expect(base.data_sha256).not.toBe(attacked.data_sha256);
    for (const [m, dir] of [
      [base, 'base'],
      [attacked, 'attacked'],
    ] as const) {
      const c = Checkpoint.open(path.join(DEMO, dir));
      expect(m.data_sha256).toBe(c.dataSha256());
      c.close();
    }
    expect(d).toEqual({ source: data, sha256: sha(data) });
    const both = (f: string) => `${f}\u0000${sha(path.join(DEMO, 'base', f))}\n`;
    expect(tokenizer).toEqual({
      path: path.join(DEMO, 'base'),
      files: ['tokenizer.json', 'tokenizer_config.json'],
      sha256: createHash('sha256')
        .update(both('tokenizer.json') + both('tokenizer_config.json'))
        .digest('hex'),
    });
    expect(manifest.command_line?.slice(0, 4)).toEqual(['sil', 'locate', '--base', path.join(DEMO, 'base')]);
    expect(manifest.command_line ?? []).toContain('--max-examples');
    expect(manifest.package).toEqual({ name: 'sil', version: JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).version, node: process.version });
  });

  it('--replay re-runs the manifest and finds every mask identical byte for byte', () => {
    const r = sil('locate', '--replay', path.join(run, 'manifest.json'), '--json');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.identical).toBe(true);
    expect(out.masks.map((m: { name: string; identical: boolean }) => `${m.name}:${m.identical}`)).toEqual(['en:true', 'it:true', 'intersection:true', 'union:true', 'random:true']);
  }, 300000);

  it('--replay names a mask of the run that no longer matches, and exits 2', () => {
    const copy = path.join(tmp, 'tampered');
    fs.cpSync(run, copy, { recursive: true });
    const f = path.join(copy, 'masks/it.safetensors');
    const b = fs.readFileSync(f);
    b[b.length - 1] ^= 1;
    fs.writeFileSync(f, b);
    const r = sil('locate', '--replay', path.join(copy, 'manifest.json'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^sil: error \[REPLAY_MISMATCH\]: masks differ from the run's: it \(1 byte\(s\) differ\)/);
  }, 300000);

  it('--replay refuses before any work when the calibration data changed since the run', () => {
    const m = { ...manifest, inputs: { ...manifest.inputs, data: { ...manifest.inputs.data, sha256: '0'.repeat(64) } } };
    const dir = path.join(tmp, 'changed');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m));
    const t0 = Date.now();
    const r = sil('locate', '--replay', path.join(dir, 'manifest.json'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`[REPLAY_MISMATCH]: the inputs are not those of the run: data ${data} changed`);
    expect(Date.now() - t0).toBeLessThan(20000);
  });

  it('--replay takes no run options of its own', () => {
    const r = sil('locate', '--replay', path.join(run, 'manifest.json'), '--k', '0.1');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--replay takes its options from the manifest; drop --k');
  });
});
