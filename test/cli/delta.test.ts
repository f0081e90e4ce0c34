/** End to end: the built CLI (`npm test` builds dist/ first). */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { builtCli } from '../helpers/dist';
import { HF_TINY } from '../helpers/fixtures';

const MAIN = builtCli();
const QWEN = path.join(HF_TINY, 'qwen2-tiny-bf16-sharded');
const LLAMA = path.join(HF_TINY, 'llama3-tiny-bf16');

function sil(...args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function readCsv(file: string): Array<Record<string, string>> {
  const [head, ...rows] = fs.readFileSync(file, 'utf8').trim().split('\n');
  const cols = head.split(',');
  return rows.map((r) => Object.fromEntries(r.split(',').map((v, i) => [cols[i], v])));
}

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-cli-delta-'));
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('sil delta', () => {
  it('writes tensors, layers and kinds CSVs and a summary that agree with the golden deltas', () => {
    const out = path.join(tmp, 'run');
    const r = sil('delta', '--base', path.join(QWEN, 'base'), '--attacked', path.join(QWEN, 'attacked'), '--out', out, '--threads', '2');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Most changed layers/);
    expect(fs.readdirSync(out).sort()).toEqual(['.sil-output.json', 'kinds.csv', 'layers.csv', 'summary.json', 'tensors.csv']);
    expect(fs.readdirSync(tmp)).toEqual(['run']);

    const golden = JSON.parse(fs.readFileSync(path.join(QWEN, 'golden.json'), 'utf8'));
    const rows = readCsv(path.join(out, 'tensors.csv'));
    expect(rows.map((x) => x.tensor).sort()).toEqual(Object.keys(golden.tensors).sort());
    for (const row of rows) {
      const g = golden.tensors[row.tensor].delta;
      expect(Math.abs(Number(row.l2) / g.l2 - 1)).toBeLessThan(1e-6);
      expect(Number(row.max_abs)).toBe(g.max_abs);
      expect(Math.round(Number(row.frac_changed) * Number(row.numel))).toBe(g.nonzero);
      expect(row.nan).toBe('0');
    }
    expect(rows.find((x) => x.tensor === 'model.layers.2.self_attn.k_proj.bias')).toMatchObject({ layer: '2', kind: 'k_bias', dtype: 'BF16', shape: '32' });

    const layers = readCsv(path.join(out, 'layers.csv'));
    // the layers.csv format of sil locate: Δ rows carry no language and no score columns
    expect(Object.keys(layers[0])).toEqual([
      'lang',
      'layer',
      'kind',
      'numel',
      'l1',
      'l2',
      'max_abs',
      'mean_abs',
      'rel_l2',
      'frac_changed',
      'score_mass',
      'score_share',
      'selected',
      'selected_fraction',
    ]);
    expect(layers.every((x) => x.lang === '' && x.score_mass === '' && x.selected === '')).toBe(true);
    expect(layers.filter((x) => x.layer === '1').map((x) => x.kind)).toContain('q_bias');
    const l2q1 = rows.filter((x) => x.layer === '1' && x.kind === 'q').map((x) => Number(x.l2))[0];
    expect(Number(layers.find((x) => x.layer === '1' && x.kind === 'q')!.l2)).toBeCloseTo(l2q1, 12);

    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    const numel = Object.values(golden.tensors as Record<string, { delta: { numel: number } }>).reduce((a, t) => a + t.delta.numel, 0);
    expect(summary).toMatchObject({ command: 'delta', architecture: 'Qwen2ForCausalLM', family: 'qwen2', n_tensors: rows.length });
    expect(summary.totals.numel).toBe(numel);
    expect(summary.inputs.base.header_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(summary.top_layers).toHaveLength(3);
  });

  it('prints the JSON summary with --json and writes |Δ| safetensors with --save-abs-delta', () => {
    const out = path.join(tmp, 'run');
    const r = sil('delta', '--base', path.join(LLAMA, 'base'), '--attacked', path.join(LLAMA, 'attacked'), '--out', out, '--json', '--save-abs-delta', '--threads', '0');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.n_tensors).toBe(21);
    expect(s.options).toMatchObject({ save_abs_delta: true, threads: 0 });
    expect(fs.readdirSync(path.join(out, 'abs_delta'))).toEqual(['model.safetensors']);
    // rerun into the same folder (--force) with small shards, then with one file: no stale shard or index survives
    const args = ['delta', '--base', path.join(LLAMA, 'base'), '--attacked', path.join(LLAMA, 'attacked'), '--out', out, '--json', '--save-abs-delta', '--force'];
    expect(sil(...args, '--max-shard-size', '100KB').code).toBe(0);
    expect(fs.readdirSync(path.join(out, 'abs_delta'))).toContain('model.safetensors.index.json');
    expect(sil(...args).code).toBe(0);
    expect(fs.readdirSync(path.join(out, 'abs_delta'))).toEqual(['model.safetensors']);
  });

  it('exits 2 with a typed error and writes nothing when the checkpoints do not match', () => {
    const out = path.join(tmp, 'run');
    const r = sil('delta', '--base', path.join(LLAMA, 'base'), '--attacked', path.join(QWEN, 'attacked'), '--out', out);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^sil: error \[CHECKPOINT_MISMATCH\]: architectures differ/);
    expect(r.stdout).toBe('');
    expect(fs.readdirSync(tmp)).toEqual([]);
  });

  it('exits 2 naming the file when a checkpoint is truncated, and leaves an existing output folder (its own, replaced with --force) as it was', () => {
    const bad = path.join(tmp, 'bad');
    fs.mkdirSync(bad);
    fs.copyFileSync(path.join(LLAMA, 'attacked/config.json'), path.join(bad, 'config.json'));
    const st = fs.readFileSync(path.join(LLAMA, 'attacked/model.safetensors'));
    fs.writeFileSync(path.join(bad, 'model.safetensors'), st.subarray(0, st.length - 100));
    const out = path.join(tmp, 'run');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'keep.txt'), 'x');
    fs.writeFileSync(path.join(out, '.sil-output.json'), JSON.stringify({ sil_output: 1, command: 'delta', version: '0', created: '' }));
    const r = sil('delta', '--base', path.join(LLAMA, 'base'), '--attacked', bad, '--out', out, '--force');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('[TRUNCATED]');
    expect(r.stderr).toContain(path.join(bad, 'model.safetensors'));
    expect(fs.readdirSync(out).sort()).toEqual(['.sil-output.json', 'keep.txt']);
    expect(fs.readdirSync(tmp).sort()).toEqual(['bad', 'run']);
  });

  it('exits non-zero on a missing required option or a bad --threads, and documents its options in --help', () => {
    expect(sil('delta', '--base', 'x', '--out', path.join(tmp, 'o')).code).not.toBe(0);
    const t = sil('delta', '--base', path.join(LLAMA, 'base'), '--attacked', path.join(LLAMA, 'attacked'), '--out', path.join(tmp, 'o'), '--threads', 'many');
    expect(t.code).toBe(2);
    expect(t.stderr).toContain('INVALID_ARGUMENT');
    const h = sil('delta', '--help');
    expect(h.code).toBe(0);
    for (const flag of ['--base', '--attacked', '--out', '--save-abs-delta', '--json', '--threads', '--max-shard-size']) expect(h.stdout).toContain(flag);
    expect(fs.readdirSync(tmp)).toEqual([]);
  });

  it('runs on the shipped weights/tiny pair, which scripts/make-tiny.js reproduces byte for byte', () => {
    const regen = spawnSync(process.execPath, [path.resolve(__dirname, '../../scripts/make-tiny.js'), '--out', path.join(tmp, 'tiny')], { encoding: 'utf8' });
    expect(regen.status).toBe(0);
    const shipped = path.resolve(__dirname, '../../weights/tiny');
    for (const f of ['base/model.safetensors', 'attacked/model.safetensors', 'base/config.json']) {
      expect(fs.readFileSync(path.join(tmp, 'tiny', f)).equals(fs.readFileSync(path.join(shipped, f)))).toBe(true);
    }
    expect(fs.statSync(path.join(shipped, 'base/model.safetensors')).size + fs.statSync(path.join(shipped, 'attacked/model.safetensors')).size).toBeLessThan(1 << 20);
    const r = sil('delta', '--base', path.join(shipped, 'base'), '--attacked', path.join(shipped, 'attacked'), '--out', path.join(tmp, 'run'), '--json');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.top_layers[0].layer).toBe(1);
    expect(s.top_kinds.map((k: { kind: string }) => k.kind)).not.toContain('input_norm');
  });
});
