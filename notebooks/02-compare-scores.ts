// The notebook 02-compare-scores.ipynb in jupytext's percent format: `node notebooks/make.js` writes it from this file.
// Cells start at `// %%` (code, TypeScript for the tslab kernel) or `// %% [markdown]` (each line after `// `).
export {};

// %% [markdown]
// # Compare scores across languages and k
//
// On the demo pair, `sil locate` with four scores — `sil` (|Δ| ⊙ |Σ∇L|), `snip` (Σ|θ ⊙ ∇L|),
// `weightdiff` (|Δ|) and `random` — at k ∈ {0.01, 0.05, 0.2}, then:
//
// 1. SIR between methods, per language and for the language-agnostic ∩;
// 2. SIR between languages, per method;
// 3. how the ∩ over languages grows with k.
//
// Gradients are computed once per gradient-based score: the cache (`cache/<set>.grads.safetensors`,
// keyed by the checkpoint, the calibration batches and the gradient fields, not by k) of the first k
// is copied into the run folders of the other k values, which then only select. `sil` and `snip` store
// different fields (Σ∇L and Σ|∇L|, the latter in `cache/<set>.absgrad.grads.safetensors`), so each
// computes its own. Run `npm run build` first.

// %%
const path = require('node:path');
const os = require('node:os');
const fs = require('node:fs');
const tslab = require('tslab');
const { locate, resolveOptions } = require('../dist/locate');
const { pairwiseOverlap } = require('../dist/locate/combine');
const { SILENT } = require('../dist/progress');
const { loadRun } = require('../dist/report');

const METHODS = ['sil', 'snip', 'weightdiff', 'random'];
const KS = [0.01, 0.05, 0.2];
const root: string = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-compare-'));
const dirOf = (score: string, k: number): string => path.join(root, `${score}-k${k}`);

// %% [markdown]
// Twelve runs; the table shows which computed gradients and which read them from the cache.

// %%
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

// %% [markdown]
// ## 1. SIR between methods
//
// For each k and each language mask (and the ∩), SIR between the masks of two methods. Equal-size
// masks make SIR symmetric here; a random mask meets any mask in about a fraction k of its entries.

// %%
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

// %% [markdown]
// ## 2. SIR between languages, per method
//
// Mean, min and max SIR over the pairs of languages, and the global SIR |⋂ languages| / k. `weightdiff`
// depends only on the weights and `random` only on the seed, so their masks are the same in every
// language (SIR 1): they are baselines for the method comparison above. Only the data-dependent
// scores can tell languages apart; independent random masks would meet at SIR ≈ k.

// %%
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

// %%
const k0 = 0.05;
const ovSil = loadRun(dirOf('sil', k0)).overlap;
const ovSnip = loadRun(dirOf('snip', k0)).overlap;
const matrix = (ov: any[]) => Object.fromEntries(langs.map((a) => [a, Object.fromEntries(langs.map((b) => [b, +ov.find((o) => o.a === a && o.b === b).sir.toFixed(3)]))]));
console.log(`sil, k = ${k0}`);
console.table(matrix(ovSil));
console.log(`snip, k = ${k0}`);
console.table(matrix(ovSnip));

// %% [markdown]
// ## 3. The language-agnostic ∩ against k
//
// |∩| as a share of the in-scope parameters, and the global SIR |∩| / k (the share of one language's
// mask that every language selects). For four independent random k-subsets the global SIR would be
// about k³.

// %%
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

// %%
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

// %%
fs.rmSync(root, { recursive: true, force: true });
