# Writes the notebooks from their cell lists (kept as code here so diffs stay readable).
import json, sys

def nb(cells):
    out = []
    for i, (kind, src) in enumerate(cells):
        c = {"cell_type": kind, "id": f"c{i:02d}", "metadata": {}, "source": src.strip("\n")}
        if kind == "code":
            c.update(execution_count=None, outputs=[])
        out.append(c)
    return {"cells": out, "metadata": {"kernelspec": {"name": "tslab", "display_name": "TypeScript", "language": "typescript"},
            "language_info": {"name": "typescript"}}, "nbformat": 4, "nbformat_minor": 5}

FREEZE = [
("markdown", """
# Export a freeze mask and use it in PyTorch

A mask γ has one 0/1 entry per parameter, stored as safetensors under the checkpoint's own tensor
names. Here we select the top 5% of parameters by weight change |Δ| = |θ_attacked − θ_base| (the
`weightdiff` score) on the tiny pair in `weights/tiny`, write the mask, read it back, and show how
PyTorch freezes the masked entries. `sil locate` does the same with gradient-based scores and an
exact streamed top-k; the library modules used here are the ones it is built from.

Run `npm run build` first: the notebook loads the compiled library from `dist/`.
"""),
("code", """
const path = require('node:path');
const os = require('node:os');
const fs = require('node:fs');
const { Checkpoint } = require('../dist/io/checkpoint');
const { writeMask, readMask } = require('../dist/mask/maskfile');
const { maskSize } = require('../dist/mask/mask');

const base = Checkpoint.open('../weights/tiny/base');
const attacked = Checkpoint.open('../weights/tiny/attacked');
console.log(base.names().length, 'tensors,', base.numel(), 'parameters');
"""),
("markdown", "Score every parameter by |Δ| and find the global threshold for k = 5% (ties at the threshold are all kept)."),
("code", """
const k = 0.05;
const names: string[] = base.names();
const scores = new Map<string, Float32Array>();
for (const n of names) {
  const a = base.readF32(n), b = attacked.readF32(n);
  const s = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) s[i] = Math.abs(b[i] - a[i]);
  scores.set(n, s);
}
const all = Float32Array.from([...scores.values()].flatMap((s) => Array.from(s))).sort();
const kCount = Math.round(k * all.length);
const threshold = all[all.length - kCount];
console.log('threshold |Δ| =', threshold, 'for', kCount, 'of', all.length, 'parameters');
"""),
("code", """
const mask = { tensors: names.map((name) => {
  const s = scores.get(name)!;
  const data = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) data[i] = s[i] >= threshold && s[i] > 0 ? 1 : 0;
  return { name, shape: base.info(name).shape, data };
}) };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-notebook-'));
const file = path.join(dir, 'weightdiff-k5.safetensors');
writeMask(file, mask);
const back = readMask(file);
const size = maskSize(back);
console.log(file, size, (100 * size.selected / size.total).toFixed(2) + '% selected');
"""),
("markdown", "Where the selected entries are: the five tensors with the largest selected share."),
("code", """
const rows = back.tensors.map((t: { name: string; data: Uint8Array }) => ({ tensor: t.name, selected: t.data.reduce((a, b) => a + b, 0), numel: t.data.length }))
  .map((r: { tensor: string; selected: number; numel: number }) => ({ ...r, share: +(r.selected / r.numel).toFixed(3) }))
  .sort((a: { share: number }, b: { share: number }) => b.share - a.share).slice(0, 5);
console.table(rows);
"""),
("markdown", """
## In PyTorch

The file loads with `safetensors.torch.load_file`. To keep the masked entries unchanged while
fine-tuning, put them back after every `optimizer.step()`: zeroing their gradient with a hook is
not enough, because AdamW's decoupled weight decay (and SGD's `weight_decay`, and momentum from
earlier steps) moves entries whose gradient is zero. `sil finetune --freeze FILE` takes the same
file. (Invert the mask — `sil mask invert` — to train only those entries instead.)
"""),
("code", """
const snippet = `import torch
from safetensors.torch import load_file

mask = load_file("${path.basename(file)}")   # {tensor name: uint8 0/1, same shape}
frozen = {n: (p, mask[n].to(p.device).bool()) for n, p in model.named_parameters() if n in mask}
saved = {n: p.detach()[m].clone() for n, (p, m) in frozen.items()}   # the masked entries as they are

def restore_frozen():
    with torch.no_grad():
        for n, (p, m) in frozen.items():
            p[m] = saved[n]

optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)   # weight_decay=0.01 by default
for batch in loader:
    loss = model(**batch).loss
    loss.backward()
    optimizer.step()
    restore_frozen()   # after every step: weight decay and momentum moved the masked entries
    optimizer.zero_grad()`;
console.log(snippet);
base.close(); attacked.close();
fs.rmSync(dir, { recursive: true, force: true });
"""),
]

LOCATE = [
("markdown", """
# Locate safety information on the demo pair

`sil locate` compares an aligned checkpoint θpre with a copy fine-tuned to comply (θattacked) and
selects, per language, the top-k fraction of parameters by a localisation score — here `sil`,
|Δ| ⊙ |Σ∇L| with gradients at θpre on harmful prompts paired with compliant answers. With no
`--base`/`--attacked` it runs on the demo pair in `weights/demo` (a 0.77M-parameter Llama that
refuses harmful requests in en/it/fr/es, and its English-only attack) with `data/demo-probes.jsonl`.

This notebook calls the library entry point (`locate(resolveOptions(options), progress)`, the same
code as `sil locate`), shows the run's summary and draws the report figures inline.
Run `npm run build` first: the notebook loads the compiled library from `dist/`.
"""),
("code", r"""
const path = require('node:path');
const os = require('node:os');
const fs = require('node:fs');
const tslab = require('tslab');
const { locate, resolveOptions } = require('../dist/locate');
const { SILENT } = require('../dist/cli/progress');
const { loadRun, writeReport } = require('../dist/report');

// A scratch run folder, removed at the end; set SIL_NOTEBOOK_RUN (e.g. ../reports/demo) to keep the run.
const keep: string | undefined = process.env.SIL_NOTEBOOK_RUN;
const scratch: string | null = keep ? null : fs.mkdtempSync(path.join(os.tmpdir(), 'sil-locate-'));
const run: string = keep ? path.resolve(keep) : path.join(scratch!, 'run');
console.log('run folder:', run);
"""),
("markdown", """
The options are those of the command line (camelCased), so this is `sil locate --out RUN`:
score `sil`, k = 0.2 of the in-scope (linear) parameters, every language of the data, the benign
baseline from the data's benign prompts and a seeded random baseline. Gradient sums are cached per
calibration set under `RUN/cache/`, so running the cell again reuses them.
"""),
("code", r"""
const cfg = resolveOptions({ out: run });
const t0 = Date.now();
const m = await locate(cfg, SILENT);
console.log(`${m.options.score} masks, k = ${m.k} of ${m.n_in_scope.toLocaleString('en')} in-scope parameters (${m.n_params.toLocaleString('en')} in all), ${m.architecture}`);
console.log(`languages ${m.languages.join(', ')}; backend ${m.backend ? m.backend.name : 'none'}; ${((Date.now() - t0) / 1000).toFixed(1)} s`);
console.log('wrote', fs.readdirSync(run).sort().join(', '));
"""),
("markdown", "## Masks\n\nOne mask per language, their ∩ (the language-agnostic part) and ∪, the benign and random baselines."),
("code", r"""
const maskRows = Object.entries(m.masks).map(([name, r]: [string, any]) => {
  const c = m.calibration[name];
  return { mask: name, examples: c ? c.examples : '', tokens: c ? c.tokens : '', mean_loss: c && c.mean_loss !== null ? +c.mean_loss.toFixed(4) : '', gradients: c ? c.gradients : '', selected: r.selected, fraction: +(r.selected / m.n_in_scope).toFixed(4) };
});
console.table(maskRows);
console.log(`global SIR over the languages |∩|/k = ${m.global_sir.toFixed(4)}; for a random mask SIR ≈ k = ${m.expected_random_sir}`);
"""),
("markdown", "## SIR between languages\n\nSIR(a, b) = |a ∩ b| / |a| (row a, column b), from `overlap.csv`."),
("code", r"""
const data = loadRun(run);
const names: string[] = [...m.languages, 'intersection', 'benign', 'random'];
const sir = new Map<string, number>(data.overlap.map((o: any) => [`${o.a}|${o.b}`, o.sir] as [string, number]));
console.table(Object.fromEntries(names.map((a) => [a, Object.fromEntries(names.map((b) => [b, +(sir.get(`${a}|${b}`) ?? NaN).toFixed(3)]))])));
const cross: number[] = [];
for (const a of m.languages) for (const b of m.languages) if (a < b) cross.push(sir.get(`${a}|${b}`)!);
console.log(`mean SIR between two languages: ${(cross.reduce((s, x) => s + x, 0) / cross.length).toFixed(3)} (random: ${m.k})`);
"""),
("markdown", "## Top regions\n\nHeads, KV heads and MLP neurons ranked by score mass within each language (`regions.csv`), the top three of each."),
("code", r"""
console.table(data.regions.filter((r: any) => r.rank <= 3).map((r: any) => ({ lang: r.lang, rank: r.rank, tensor: r.tensor, unit: r.unit, index: r.index, score_mass: +r.score_mass.toPrecision(4), selected_share: +r.selected_share.toFixed(3) })));
"""),
("markdown", "The run's own human summary, `summary.md`:"),
("code", r"""
tslab.display.markdown(fs.readFileSync(path.join(run, 'summary.md'), 'utf8'));
"""),
("markdown", """
## Report figures

`sil report RUN` renders every figure the run folder allows (SVG, CSV, HTML here; PNG too by
default) into `RUN/report/`. The SVGs are shown inline; the violation and k-sweep figures need the
evaluation tables of `npm run experiment` and are skipped for a plain locate run.
"""),
("code", r"""
const rep = await writeReport(run, path.join(run, 'report'), { formats: ['svg', 'csv', 'html'], force: true });
console.log(`${rep.figures.length} figures in ${rep.outDir}; skipped: ${rep.skipped.map((s: any) => `${s.id} (needs ${s.missing.join(', ')})`).join('; ')}`);
for (const f of rep.figures) tslab.display.html(`<h4>${f.title}</h4>${f.svg}<p><small>${f.caption}</small></p>`);
"""),
("code", r"""
if (rep.regionsHtml) tslab.display.html(`<h4>Top regions</h4>${rep.regionsHtml}`);
if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
"""),
]

COMPARE = [
("markdown", """
# Compare scores across languages and k

On the demo pair, `sil locate` with four scores — `sil` (|Δ| ⊙ |Σ∇L|), `snip` (Σ|θ ⊙ ∇L|),
`weightdiff` (|Δ|) and `random` — at k ∈ {0.01, 0.05, 0.2}, then:

1. SIR between methods, per language and for the language-agnostic ∩;
2. SIR between languages, per method;
3. how the ∩ over languages grows with k.

Gradients are computed once per gradient-based score: the cache (`cache/<set>.grads.safetensors`,
keyed by the checkpoint, the calibration batches and the gradient fields, not by k) of the first k
is copied into the run folders of the other k values, which then only select. `sil` and `snip` store
different fields (Σ∇L and Σ|∇L|, the latter in `cache/<set>.absgrad.grads.safetensors`), so each
computes its own. Run `npm run build` first.
"""),
("code", r"""
const path = require('node:path');
const os = require('node:os');
const fs = require('node:fs');
const tslab = require('tslab');
const { locate, resolveOptions } = require('../dist/locate');
const { pairwiseOverlap } = require('../dist/locate/combine');
const { SILENT } = require('../dist/cli/progress');
const { loadRun } = require('../dist/report');

const METHODS = ['sil', 'snip', 'weightdiff', 'random'];
const KS = [0.01, 0.05, 0.2];
const root: string = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-compare-'));
const dirOf = (score: string, k: number): string => path.join(root, `${score}-k${k}`);
"""),
("markdown", "Twelve runs; the table shows which computed gradients and which read them from the cache."),
("code", r"""
const runs = new Map<string, any>();
const log: object[] = [];
for (const score of METHODS) {
  for (const k of KS) {
    const dir = dirOf(score, k);
    const first = path.join(dirOf(score, KS[0]), 'cache');
    if (k !== KS[0] && fs.existsSync(first)) fs.cpSync(first, path.join(dir, 'cache'), { recursive: true });
    const t0 = Date.now();
    const m = await locate(resolveOptions({ out: dir, score, k, benign: false }), SILENT);
    runs.set(`${score}|${k}`, m);
    const grads = [...new Set(Object.values(m.calibration).map((c: any) => c.gradients))].join('/');
    log.push({ score, k, gradients: grads, seconds: +((Date.now() - t0) / 1000).toFixed(1), selected_per_lang: m.masks[m.languages[0]].selected, intersection: m.masks.intersection.selected });
  }
}
console.table(log);
const langs: string[] = runs.get(`sil|${KS[0]}`).languages;
const nScope: number = runs.get(`sil|${KS[0]}`).n_in_scope;
"""),
("markdown", """
## 1. SIR between methods

For each k and each language mask (and the ∩), SIR between the masks of two methods. Equal-size
masks make SIR symmetric here; a random mask meets any mask in about a fraction k of its entries.
"""),
("code", r"""
const pairs: Array<[string, string]> = [];
for (let i = 0; i < METHODS.length; i++) for (let j = i + 1; j < METHODS.length; j++) pairs.push([METHODS[i], METHODS[j]]);
const methodRows: object[] = [];
const methodSir = new Map<string, number>();
for (const k of KS) {
  for (const mask of [...langs, 'intersection']) {
    const rows = pairwiseOverlap(METHODS.map((s) => ({ name: s, file: path.join(dirOf(s, k), 'masks', `${mask}.safetensors`) })));
    const row: Record<string, string | number> = { k, mask };
    for (const [a, b] of pairs) {
      const r = rows.find((x: any) => x.a === a && x.b === b);
      row[`${a}·${b}`] = +r.sir.toFixed(3);
      methodSir.set(`${k}|${mask}|${a}|${b}`, r.sir);
    }
    methodRows.push(row);
  }
}
console.table(methodRows);
"""),
("markdown", """
## 2. SIR between languages, per method

Mean, min and max SIR over the pairs of languages, and the global SIR |⋂ languages| / k. `weightdiff`
depends only on the weights and `random` only on the seed, so their masks are the same in every
language (SIR 1): they are baselines for the method comparison above. Only the data-dependent
scores can tell languages apart; independent random masks would meet at SIR ≈ k.
"""),
("code", r"""
const langRows: object[] = [];
for (const score of METHODS) {
  for (const k of KS) {
    const m = runs.get(`${score}|${k}`);
    const ov = loadRun(dirOf(score, k)).overlap.filter((o: any) => langs.includes(o.a) && langs.includes(o.b) && o.a < o.b);
    const s = ov.map((o: any) => o.sir as number);
    langRows.push({ score, k, mean: +(s.reduce((a: number, b: number) => a + b, 0) / s.length).toFixed(3), min: +Math.min(...s).toFixed(3), max: +Math.max(...s).toFixed(3), global_sir: +m.global_sir.toFixed(3), random_pair_sir: k });
  }
}
console.table(langRows);
"""),
("code", r"""
const k0 = 0.05;
const ovSil = loadRun(dirOf('sil', k0)).overlap;
const ovSnip = loadRun(dirOf('snip', k0)).overlap;
const matrix = (ov: any[]) => Object.fromEntries(langs.map((a) => [a, Object.fromEntries(langs.map((b) => [b, +ov.find((o) => o.a === a && o.b === b).sir.toFixed(3)]))]));
console.log(`sil, k = ${k0}`);
console.table(matrix(ovSil));
console.log(`snip, k = ${k0}`);
console.table(matrix(ovSnip));
"""),
("markdown", """
## 3. The language-agnostic ∩ against k

|∩| as a share of the in-scope parameters, and the global SIR |∩| / k (the share of one language's
mask that every language selects). For four independent random k-subsets the global SIR would be
about k³.
"""),
("code", r"""
const growth: object[] = [];
for (const score of METHODS) {
  const row: Record<string, string | number> = { score };
  for (const k of KS) {
    const m = runs.get(`${score}|${k}`);
    row[`∩/N k=${k}`] = +(m.masks.intersection.selected / nScope).toFixed(4);
    row[`SIR k=${k}`] = +m.global_sir.toFixed(3);
  }
  growth.push(row);
}
const indep: Record<string, string | number> = { score: 'independent random' };
for (const k of KS) { indep[`∩/N k=${k}`] = +(k ** 4).toPrecision(2); indep[`SIR k=${k}`] = +(k ** 3).toPrecision(2); }
growth.push(indep);
console.table(growth);
"""),
("code", r"""
// global SIR against k (log axis), one line per score
const W = 580, H = 280, L = 56, R = 170, T = 20, B = 44;
const lx = (k: number) => L + ((Math.log10(k) - Math.log10(KS[0])) / (Math.log10(KS[KS.length - 1]) - Math.log10(KS[0]))) * (W - L - R);
const ly = (v: number) => T + (1 - v) * (H - T - B);
const colours: Record<string, string> = { sil: '#1f77b4', snip: '#ff7f0e', weightdiff: '#2ca02c', random: '#7f7f7f', 'independent random': '#bbbbbb' };
const series: Array<[string, number[]]> = METHODS.map((s) => [s, KS.map((k) => runs.get(`${s}|${k}`).global_sir as number)] as [string, number[]]);
series.push(['independent random', KS.map((k) => k ** 3)]); // k³: four independent random k-subsets
let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`;
for (const v of [0, 0.25, 0.5, 0.75, 1]) svg += `<line x1="${L}" x2="${W - R}" y1="${ly(v)}" y2="${ly(v)}" stroke="#eee"/><text x="${L - 6}" y="${ly(v) + 4}" text-anchor="end">${v}</text>`;
for (const k of KS) svg += `<text x="${lx(k)}" y="${H - B + 16}" text-anchor="middle">${k}</text>`;
svg += `<text x="${(L + W - R) / 2}" y="${H - 8}" text-anchor="middle">k (log scale)</text>`;
svg += `<text transform="translate(14 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">global SIR |∩| / k</text>`;
series.forEach(([name, ys], i) => {
  const c = colours[name];
  const dash = name === 'independent random' ? ' stroke-dasharray="4 3"' : '';
  // lines that coincide (weightdiff and random at 1) are offset by a pixel so both stay visible
  const pts = KS.map((k, j) => `${lx(k)},${ly(ys[j]) + (name === 'random' ? 2 : 0)}`).join(' ');
  svg += `<polyline points="${pts}" fill="none" stroke="${c}" stroke-width="2"${dash}/>`;
  KS.forEach((k, j) => { svg += `<circle cx="${lx(k)}" cy="${ly(ys[j]) + (name === 'random' ? 2 : 0)}" r="3" fill="${c}"/>`; });
  svg += `<line x1="${W - R + 10}" x2="${W - R + 28}" y1="${T + 8 + 16 * i}" y2="${T + 8 + 16 * i}" stroke="${c}" stroke-width="2"${dash}/><text x="${W - R + 32}" y="${T + 12 + 16 * i}">${name}</text>`;
});
svg += `<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#333"/><line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#333"/></svg>`;
tslab.display.html(svg);
"""),
("code", r"""
fs.rmSync(root, { recursive: true, force: true });
"""),
]

NOTEBOOKS = {"01-locate-demo.ipynb": LOCATE, "02-compare-scores.ipynb": COMPARE, "03-freeze-mask.ipynb": FREEZE}

if __name__ == "__main__":
    for name, cells in NOTEBOOKS.items():
        with open(name, "w") as f:
            json.dump(nb(cells), f, indent=1, ensure_ascii=False)
            f.write("\n")
