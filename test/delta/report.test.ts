import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Checkpoint } from '../../src/io/checkpoint';
import { writeSafetensors } from '../../src/io/writer';
import { computeDelta } from '../../src/delta/compute';
import { byKind, byLayer, byLayerKind, total } from '../../src/delta/rollup';
import { renderDeltaFiles, summarize } from '../../src/delta/report';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-delta-report-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A two-layer checkpoint whose tensors are `value` everywhere, with the given architecture. */
function checkpoint(name: string, architecture: string, names: string[], value: (tensor: string) => number): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ architectures: [architecture] }));
  writeSafetensors(
    path.join(dir, 'model.safetensors'),
    names.map((n) => ({ name: n, dtype: 'F32' as const, shape: [2, 2], data: new Float32Array(4).fill(value(n)) })),
  );
  return dir;
}

describe('delta roll-ups and report files', () => {
  it('rolls up per layer × kind, per kind and per layer from sums, not by averaging ratios', async () => {
    const names = ['model.layers.0.mlp.up_proj.weight', 'model.layers.1.mlp.up_proj.weight', 'model.layers.1.self_attn.q_proj.weight', 'model.norm.weight'];
    const base = Checkpoint.open(checkpoint('lb', 'LlamaForCausalLM', names, () => 1));
    const att = Checkpoint.open(checkpoint('la', 'LlamaForCausalLM', names, (n) => (n.includes('layers.1.mlp') ? 4 : n.includes('q_proj') ? 2 : 1)));
    const r = await computeDelta(base, att, { threads: 0 });
    expect(r.tensors.map((t) => [t.tensor, t.layer, t.kind])).toEqual([
      ['model.layers.0.mlp.up_proj.weight', 0, 'up'],
      ['model.layers.1.self_attn.q_proj.weight', 1, 'q'],
      ['model.layers.1.mlp.up_proj.weight', 1, 'up'],
      ['model.norm.weight', null, 'final_norm'],
    ]);
    const up = byKind(r.tensors, r.architecture).find((k) => k.kind === 'up')!;
    expect(up).toMatchObject({ numel: 8, l1: 12, l2: 6, max_abs: 3, mean_abs: 1.5, frac_changed: 0.5, rel_l2: 6 / Math.sqrt(8) });
    const layer1 = byLayer(r.tensors).find((l) => l.layer === 1)!;
    expect(layer1).toMatchObject({ numel: 8, l1: 16, max_abs: 3, frac_changed: 1 });
    expect(layer1.l2).toBeCloseTo(Math.sqrt(40), 14);
    expect(byLayerKind(r.tensors)).toHaveLength(4);
    expect(total(r.tensors)).toMatchObject({ numel: 16, l1: 16, changed: 8 });
    const s = summarize(r, { base: { path: 'b', header_sha256: 'x' }, attacked: { path: 'a', header_sha256: 'y' }, options: {}, version: '0', created: 'now', seconds: 1 });
    expect(s.top_layers[0].layer).toBe(1);
    expect(s.top_modules[0]).toMatchObject({ layer: 1, kind: 'up' });
    const files = await renderDeltaFiles(r, s);
    expect(files['kinds.csv'].split('\n')[0]).toBe('kind,numel,l1,l2,max_abs,mean_abs,rel_l2,frac_changed');
    // the layers.csv format sil locate writes too: no language, the Δ columns filled, the score columns empty
    expect(files['layers.csv'].split('\n')[0]).toBe('lang,layer,kind,numel,l1,l2,max_abs,mean_abs,rel_l2,frac_changed,score_mass,score_share,selected,selected_fraction');
    expect(files['layers.csv']).toContain('\n,,final_norm,4,0,0,0,0,0,0,,,,\n');
    base.close();
    att.close();
  });

  it('still computes deltas for an unknown architecture, grouped by name, with a warning', async () => {
    const names = ['gpt_neox.layers.0.attention.dense.weight', 'gpt_neox.layers.3.mlp.dense_4h_to_h.weight', 'embed_out.weight'];
    const base = Checkpoint.open(checkpoint('nb', 'GPTNeoXForCausalLM', names, () => 1));
    const att = Checkpoint.open(checkpoint('na', 'GPTNeoXForCausalLM', names, () => 1.5));
    const r = await computeDelta(base, att, { threads: 0 });
    expect(r.warnings.join()).toMatch(/GPTNeoXForCausalLM is not described/);
    expect(r.family).toBeNull();
    expect(r.tensors.map((t) => [t.layer, t.kind])).toEqual([
      [0, 'other'],
      [3, 'other'],
      [null, 'other'],
    ]);
    expect(r.tensors.every((t) => t.l2 === 1)).toBe(true);
    base.close();
    att.close();
  });
});
