/** NaN and Inf in the weights: sil locate refuses them by tensor and count, or scores them 0 when told to. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeTinyPair, tmpDir } from '../score/tiny-pair';
import { pairArgs, sil } from './helpers';
import { scanNonFinite, zeroNonFinite } from '../../src/score/finite';
import { Checkpoint } from '../../src/io/checkpoint';
import { writeSafetensors } from '../../src/io/writer';

const Q = 'model.layers.0.self_attn.q_proj.weight';
const UP = 'model.layers.0.mlp.up_proj.weight';
let dir: string;
beforeAll(() => {
  dir = tmpDir('nonfinite');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A pair with NaN at two elements of θpre's q_proj (when `inBase`) and +Inf at one element of θattacked's up_proj. */
function pair(name: string, inBase: boolean): { base: string; attacked: string } {
  const p = writeTinyPair(
    path.join(dir, name),
    (n, _s, v) => {
      if (n === UP) v[5] = Infinity;
      v[0] += 1 / 64;
    },
    'F32',
  );
  if (inBase) {
    // rewrite base with NaNs in q_proj
    const b = Checkpoint.open(p.base);
    const tensors = b.names().map((n) => {
      const data = b.readF32(n);
      if (n === Q) data[1] = data[3] = NaN;
      return { name: n, shape: b.info(n).shape, dtype: 'F32' as const, data };
    });
    b.close();
    writeSafetensors(path.join(p.base, 'model.safetensors'), tensors, { format: 'pt' });
  }
  return p;
}

describe('scanNonFinite', () => {
  it('counts NaN/Inf per tensor in θpre and in Δ', () => {
    const p = pair('scan', true);
    const b = Checkpoint.open(p.base);
    const a = Checkpoint.open(p.attacked);
    const c = scanNonFinite(b, a, b.names(), b.names(), 7);
    expect(c.thetaPre).toEqual({ [Q]: 2 });
    expect(c.delta).toEqual({ [Q]: 2, [UP]: 1 });
    b.close();
    a.close();
    const x = Float32Array.from([1, NaN, -Infinity, 2]);
    expect(zeroNonFinite(x)).toBe(2);
    expect([...x]).toEqual([1, 0, 0, 2]);
  });
});

describe('sil locate with NaN/Inf weights', () => {
  it('refuses +Inf in θattacked with a typed error naming the tensor and the count, and writes nothing', () => {
    const p = pair('inf', false);
    const out = path.join(dir, 'out-inf');
    const r = sil('locate', ...pairArgs(p), '--score', 'weightdiff', '--langs', 'en', '--no-benign', '--out', out);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^sil: error \[NONFINITE_WEIGHTS\]: 1 NaN\/Inf element\(s\) in Δ = θattacked − θpre.*--allow-nonfinite.*tensor model\.layers\.0\.mlp\.up_proj\.weight/);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('refuses NaN in θpre where θpre is scored (snip) or its gradient taken, and in Δ where Δ is scored (weightdiff)', () => {
    const p = pair('nan', true);
    const r = sil('locate', ...pairArgs(p), '--score', 'weightdiff', '--langs', 'en', '--no-benign', '--out', path.join(dir, 'out-nan'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[NONFINITE_WEIGHTS\]: 2 NaN\/Inf element\(s\) in Δ/); // weightdiff scores Δ only
    const s = sil('locate', ...pairArgs(p), '--score', 'snip', '--langs', 'en', '--no-benign', '--grads', path.join(dir, 'none.safetensors'), '--out', path.join(dir, 'out-nan2'));
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/\[NONFINITE_WEIGHTS\]: 2 NaN\/Inf element\(s\) in θpre.*tensor model\.layers\.0\.self_attn\.q_proj\.weight/);
  });

  it('with --allow-nonfinite scores those elements 0 and records them in the manifest', () => {
    const p = pair('allow', true);
    const out = path.join(dir, 'out-allow');
    const r = sil('locate', ...pairArgs(p), '--score', 'weightdiff', '--langs', 'en', '--no-benign', '--allow-nonfinite', '--k', '0.01', '--json', '--out', out);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const m = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    expect(m.nonfinite).toEqual({ allowed: true, theta_pre: {}, delta: { [Q]: 2, [UP]: 1 } });
    expect(m.options.allow_nonfinite).toBe(true);
    expect(m.masks.en.selected).toBeGreaterThan(0);
    expect(m.notes.join(' ')).toMatch(/--allow-nonfinite: 0 NaN\/Inf element\(s\) of θpre and 3 of Δ are scored 0/);
    const mask = Checkpoint.open(path.join(out, 'masks/en.safetensors'));
    const q = mask.readF32(Q);
    expect(q[1]).toBe(0);
    expect(q[3]).toBe(0);
    expect(mask.readF32(UP)[5]).toBe(0);
    mask.close();
  });
});
