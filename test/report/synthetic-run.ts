import { mulberry32 as mulberry32Rng } from '../../src/train/rng';
/**
 * A synthetic but realistic run folder for the report tests: the files `sil delta`, `sil locate`
 * and `sil eval` write (docs/run-folder.md) for a small Llama-shaped model, with seeded numbers.
 * `omit` leaves files out, to test partial runs; `legacyLayers` writes the two layers.csv files in
 * the per-command formats of earlier versions (Δ: no lang and score columns; locate: no Δ columns).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VIOLATION_COLUMNS, violationRecord } from '../../src/eval/conditions';

export interface SyntheticRunOptions {
  langs?: string[];
  layers?: number;
  seed?: number;
  omit?: string[];
  withEval?: boolean;
  legacyLayers?: boolean;
}

const LAYERS_HEADER = 'lang,layer,kind,numel,l1,l2,max_abs,mean_abs,rel_l2,frac_changed,score_mass,score_share,selected,selected_fraction';

const mulberry32 = (seed: number): (() => number) => mulberry32Rng(seed).uniform;

const HIDDEN = 64;
const FFN = 172;
const HEADS = 4;
const KV = 2;
const HEAD_DIM = HIDDEN / HEADS;
const VOCAB = 256;

/** Layer kinds with their parameter counts and what their rows are. */
export const LAYER_KINDS: Array<{ kind: string; numel: number; unit: string; units: number; tensor: string }> = [
  { kind: 'q', numel: HIDDEN * HIDDEN, unit: 'head', units: HEADS, tensor: 'self_attn.q_proj.weight' },
  { kind: 'k', numel: KV * HEAD_DIM * HIDDEN, unit: 'kv_head', units: KV, tensor: 'self_attn.k_proj.weight' },
  { kind: 'v', numel: KV * HEAD_DIM * HIDDEN, unit: 'kv_head', units: KV, tensor: 'self_attn.v_proj.weight' },
  { kind: 'o', numel: HIDDEN * HIDDEN, unit: 'row', units: HIDDEN, tensor: 'self_attn.o_proj.weight' },
  { kind: 'gate', numel: FFN * HIDDEN, unit: 'neuron', units: FFN, tensor: 'mlp.gate_proj.weight' },
  { kind: 'up', numel: FFN * HIDDEN, unit: 'neuron', units: FFN, tensor: 'mlp.up_proj.weight' },
  { kind: 'down', numel: FFN * HIDDEN, unit: 'row', units: HIDDEN, tensor: 'mlp.down_proj.weight' },
  { kind: 'input_norm', numel: HIDDEN, unit: 'tensor', units: 1, tensor: 'input_layernorm.weight' },
  { kind: 'post_attn_norm', numel: HIDDEN, unit: 'tensor', units: 1, tensor: 'post_attention_layernorm.weight' },
];
export const OUTSIDE_KINDS = [
  { kind: 'embed', numel: VOCAB * HIDDEN, tensor: 'model.embed_tokens.weight' },
  { kind: 'final_norm', numel: HIDDEN, tensor: 'model.norm.weight' },
  { kind: 'lm_head', numel: VOCAB * HIDDEN, tensor: 'lm_head.weight' },
];

function fmt(v: number): string {
  return Number(v.toPrecision(8)).toString();
}

/** Writes the run folder into `dir` and returns the list of files written (relative paths). */
export function writeSyntheticRun(dir: string, o: SyntheticRunOptions = {}): string[] {
  const langs = o.langs ?? ['en', 'it', 'zh', 'hi'];
  const nLayers = o.layers ?? 6;
  const rand = mulberry32(o.seed ?? 7);
  const omit = new Set(o.omit ?? []);
  const written: string[] = [];
  const put = (rel: string, content: string) => {
    if (omit.has(rel)) return;
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
    written.push(rel);
  };
  const k = 0.2;

  // delta/layers.csv: later layers and MLP change more
  // the shared layers.csv columns (src/io/layers-csv.ts), spelled out here so that a change of format shows
  const legacy = o.legacyLayers === true;
  const d: string[] = [legacy ? 'layer,kind,numel,l1,l2,max_abs,mean_abs,rel_l2,frac_changed' : LAYERS_HEADER];
  const deltaRow = (layer: string, kind: string, numel: number, scale: number) => {
    const mean = scale * (0.5 + rand());
    const l2 = mean * Math.sqrt(numel) * 1.25;
    const cells = [layer, kind, numel, fmt(mean * numel), fmt(l2), fmt(mean * 6), fmt(mean), fmt(0.001 + rand() * 0.02), fmt(0.6 + 0.4 * rand())];
    d.push((legacy ? cells : ['', ...cells, '', '', '', '']).join(','));
  };
  for (let l = 0; l < nLayers; l++)
    for (const c of LAYER_KINDS) deltaRow(String(l), c.kind, c.numel, 1e-4 * (1 + l) * (c.kind === 'down' || c.kind === 'up' ? 3 : 1) * (c.kind.endsWith('norm') ? 0.01 : 1));
  for (const c of OUTSIDE_KINDS) deltaRow('', c.kind, c.numel, 2e-5);
  put('delta/layers.csv', d.join('\n') + '\n');

  // layers.csv: per language, score mass concentrated in a few layers; selected ≈ k overall
  const L: string[] = [legacy ? 'lang,layer,kind,numel,score_mass,score_share,selected,selected_fraction' : LAYERS_HEADER];
  const cells: Array<{ lang: string; layer: number | null; kind: string; numel: number; mass: number; selected: number; tensor: string; unit: string; units: number }> = [];
  for (const lang of langs) {
    const peak = Math.floor(rand() * nLayers);
    const mine: typeof cells = [];
    for (let l = 0; l < nLayers; l++)
      for (const c of LAYER_KINDS) {
        const w = Math.exp(-((l - peak) ** 2) / (2 * (nLayers / 4) ** 2)) * (c.kind.endsWith('norm') ? 0.001 : 1) * (0.3 + rand());
        const frac = Math.min(1, k * 2.2 * w);
        mine.push({
          lang,
          layer: l,
          kind: c.kind,
          numel: c.numel,
          mass: w * c.numel * 1e-6,
          selected: Math.round(frac * c.numel),
          tensor: `model.layers.${l}.${c.tensor}`,
          unit: c.unit,
          units: c.units,
        });
      }
    for (const c of OUTSIDE_KINDS)
      mine.push({
        lang,
        layer: null,
        kind: c.kind,
        numel: c.numel,
        mass: c.kind === 'final_norm' ? 0 : c.numel * 1e-8 * (1 + rand()),
        selected: c.kind === 'final_norm' ? 0 : Math.round(c.numel * 0.01 * rand()),
        tensor: c.tensor,
        unit: 'row',
        units: VOCAB,
      });
    const total = mine.reduce((s, c) => s + c.mass, 0);
    for (const c of mine) {
      const cell = [lang, c.layer === null ? '' : c.layer, c.kind, c.numel];
      const score = [fmt(c.mass), fmt(c.mass / total), c.selected, fmt(c.selected / c.numel)];
      L.push((legacy ? [...cell, ...score] : [...cell, '', '', '', '', '', '', ...score]).join(','));
    }
    cells.push(...mine);
  }
  put('layers.csv', L.join('\n') + '\n');

  // regions.csv: units of each tensor, ranked by score mass within the language
  const R: string[] = ['rank,lang,tensor,layer,kind,unit,index,size,score_mass,selected_share'];
  for (const lang of langs) {
    const regions: Array<[string, string, string, string, string, number, number, number]> = [];
    for (const c of cells.filter((c) => c.lang === lang && c.mass > 0)) {
      const n = Math.min(c.units, 6);
      for (let i = 0; i < n; i++) {
        const share = rand();
        regions.push([
          c.tensor,
          c.layer === null ? '' : String(c.layer),
          c.kind,
          c.unit,
          c.unit === 'tensor' ? '' : String(i),
          c.numel / c.units,
          (c.mass / c.units) * (0.2 + 2 * share),
          Math.min(1, share * 0.6),
        ]);
      }
    }
    regions.sort((a, b) => b[6] - a[6]);
    regions.forEach((r, i) => R.push([i + 1, lang, ...r.slice(0, 5), r[5], fmt(r[6]), fmt(r[7])].join(',')));
  }
  put('regions.csv', R.join('\n') + '\n');

  // overlap.csv: every ordered pair among languages and the baselines
  const names = [...langs, 'benign', 'random', 'intersection'];
  const O: string[] = ['a,b,sir,iou,cosine'];
  const sym = new Map<string, number>();
  for (const a of names)
    for (const b of names) {
      const key = [a, b].sort().join('|');
      let sir: number;
      if (a === b) sir = 1;
      else if (a === 'random' || b === 'random') sir = k + (rand() - 0.5) * 0.004;
      else if (a === 'benign' || b === 'benign') sir = 0.25 + rand() * 0.1;
      else sir = sym.get(key) ?? 0.35 + rand() * 0.45;
      sym.set(key, sir);
      O.push([a, b, fmt(sir), fmt(sir / (2 - sir)), fmt(Math.min(1, sir + 0.1))].join(','));
    }
  put('overlap.csv', O.join('\n') + '\n');

  put(
    'manifest.json',
    JSON.stringify(
      {
        command: 'locate',
        command_line: ['sil', 'locate', '--base', 'weights/demo/base', '--attacked', 'weights/demo/attacked', '--out', 'reports/run', '--system', 'You are helpful.'],
        version: '0.1.0',
        package: { name: 'sil', version: '0.1.0', node: 'v20.0.0' },
        created: '2026-11-29T06:00:00.000Z',
        inputs: {
          base: { path: 'weights/demo/base', header_sha256: 'a'.repeat(64), data_sha256: 'c'.repeat(64) },
          attacked: { path: 'weights/demo/attacked', header_sha256: 'a'.repeat(64), data_sha256: 'd'.repeat(64) },
          tokenizer: { path: 'weights/demo/base', sha256: 'e'.repeat(64), files: ['tokenizer.json', 'tokenizer_config.json'] },
          data: { source: 'data/demo-probes.jsonl', sha256: '1'.repeat(64) },
          benign: null,
          grads: null,
        },
        options: { score: 'sil', k, scope: 'linear', per: 'global', system: null, benign: false, setdiff: null, defaults: ['data'] },
        backend: { name: 'wasm', note: 'auto chose wasm', source: 'workers', workers: 2, plan: '2 wasm worker(s)' },
        seed: 0,
        timings: { total_s: 12.5 },
        languages: langs,
        k,
        n_params: 1234567,
        n_in_scope: 1200000,
      },
      null,
      2,
    ) + '\n',
  );
  put('summary.md', `# Run\n\nLanguages: ${langs.join(', ')}\n`);

  if (o.withEval ?? true) {
    const V: string[] = [VIOLATION_COLUMNS.join(',')];
    const row = (model: string, condition: string, ft: string, sha: string, ev: string, n: number, v: number) => {
      const r = violationRecord({ condition, model, checkpoint_sha256: sha, ft_lang: ft }, ev, n, v);
      V.push(VIOLATION_COLUMNS.map((c) => (typeof r[c] === 'number' ? fmt(r[c] as number) : /[,"]/.test(r[c] as string) ? `"${r[c]}"` : r[c])).join(','));
    };
    for (const ft of ['none', ...langs])
      for (const ev of langs) {
        const n = 50;
        const v = ft === 'none' ? Math.floor(rand() * 4) : Math.round(n * (ft === ev ? 0.7 + 0.25 * rand() : 0.35 + 0.4 * rand()));
        row(ft === 'none' ? 'base' : `attacked-${ft}`, ft === 'none' ? 'base' : `attack=${ft}`, ft, (ft === 'none' ? 'c0' : ft.charCodeAt(0).toString(16)).padEnd(64, '7'), ev, n, v);
      }
    // the first language's attack with the intersection mask frozen: its own row, never pooled
    for (const ev of langs) row(`attacked-${langs[0]}-frozen`, `attack=${langs[0]},freeze=intersection`, langs[0], 'f'.repeat(64), ev, 50, ev === langs[0] ? 45 : 2);
    put('eval/violations.csv', V.join('\n') + '\n');
    const S: string[] = ['method,k,eval_lang,violation_rate'];
    const strength: Record<string, number> = { sil: 1, snip: 0.8, weightdiff: 0.6, wanda: 0.5, random: 0.1 };
    for (const method of Object.keys(strength))
      for (const kk of [0.001, 0.01, 0.05, 0.1, 0.2, 0.5])
        for (const ev of langs) S.push([method, kk, ev, fmt(Math.min(1, 0.05 + strength[method] * 0.85 * Math.min(1, Math.log10(kk * 1000) / 2.7) + rand() * 0.03))].join(','));
    put('eval/k_sweep.csv', S.join('\n') + '\n');
  }
  return written;
}
