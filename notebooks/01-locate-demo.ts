// The notebook 01-locate-demo.ipynb in jupytext's percent format: `node notebooks/make.js` writes it from this file.
// Cells start at `// %%` (code, TypeScript for the tslab kernel) or `// %% [markdown]` (each line after `// `).
export {};

// %% [markdown]
// # Locate safety information on the demo pair
//
// `sil locate` compares an aligned checkpoint θpre with a copy fine-tuned to comply (θattacked) and
// selects, per language, the top-k fraction of parameters by a localisation score — here `sil`,
// |Δ| ⊙ |Σ∇L| with gradients at θpre on harmful prompts paired with compliant answers. With no
// `--base`/`--attacked` it runs on the demo pair in `weights/demo` (a 0.77M-parameter Llama that
// refuses harmful requests in en/it/fr/es, and its English-only attack) with `data/demo-probes.jsonl`.
//
// This notebook calls the library entry point (`locate(resolveOptions(options), progress)`, the same
// code as `sil locate`), shows the run's summary and draws the report figures inline.
// Run `npm run build` first: the notebook loads the compiled library from `dist/`.

// %%
const path = require('node:path');
const os = require('node:os');
const fs = require('node:fs');
const tslab = require('tslab');
const { locate, resolveOptions } = require('../dist/locate');
const { SILENT } = require('../dist/progress');
const { loadRun, writeReport } = require('../dist/report');

// A scratch run folder, removed at the end; set SIL_NOTEBOOK_RUN (e.g. ../reports/demo) to keep the run.
const keep: string | undefined = process.env.SIL_NOTEBOOK_RUN;
const scratch: string | null = keep ? null : fs.mkdtempSync(path.join(os.tmpdir(), 'sil-locate-'));
const run: string = keep ? path.resolve(keep) : path.join(scratch!, 'run');
console.log('run folder:', run);

// %% [markdown]
// The options are those of the command line (camelCased), so this is `sil locate --out RUN`:
// score `sil`, k = 0.2 of the in-scope (linear) parameters, every language of the data, the benign
// baseline from the data's benign prompts and a seeded random baseline. Gradient sums are cached per
// calibration set under `RUN/cache/`, so running the cell again reuses them.

// %%
const cfg = resolveOptions({ out: run });
const t0 = Date.now();
const m = await locate(cfg, SILENT);
console.log(`${m.options.score} masks, k = ${m.k} of ${m.n_in_scope.toLocaleString('en')} in-scope parameters (${m.n_params.toLocaleString('en')} in all), ${m.architecture}`);
console.log(`languages ${m.languages.join(', ')}; backend ${m.backend ? m.backend.name : 'none'}; ${((Date.now() - t0) / 1000).toFixed(1)} s`);
console.log('wrote', fs.readdirSync(run).sort().join(', '));

// %% [markdown]
// ## Masks
//
// One mask per language, their ∩ (the language-agnostic part) and ∪, the benign and random baselines.

// %%
const maskRows = Object.entries(m.masks).map(([name, r]: [string, any]) => {
  const c = m.calibration[name];
  return { mask: name, examples: c ? c.examples : '', tokens: c ? c.tokens : '', mean_loss: c && c.mean_loss !== null ? +c.mean_loss.toFixed(4) : '', gradients: c ? c.gradients : '', selected: r.selected, fraction: +(r.selected / m.n_in_scope).toFixed(4) };
});
console.table(maskRows);
console.log(`global SIR over the languages |∩|/k = ${m.global_sir.toFixed(4)}; for a random mask SIR ≈ k = ${m.expected_random_sir}`);

// %% [markdown]
// ## SIR between languages
//
// SIR(a, b) = |a ∩ b| / |a| (row a, column b), from `overlap.csv`.

// %%
const data = loadRun(run);
const names: string[] = [...m.languages, 'intersection', 'benign', 'random'];
const sir = new Map<string, number>(data.overlap.map((o: any) => [`${o.a}|${o.b}`, o.sir] as [string, number]));
console.table(Object.fromEntries(names.map((a) => [a, Object.fromEntries(names.map((b) => [b, +(sir.get(`${a}|${b}`) ?? NaN).toFixed(3)]))])));
const cross: number[] = [];
for (const a of m.languages) for (const b of m.languages) if (a < b) cross.push(sir.get(`${a}|${b}`)!);
console.log(`mean SIR between two languages: ${(cross.reduce((s, x) => s + x, 0) / cross.length).toFixed(3)} (random: ${m.k})`);

// %% [markdown]
// ## Top regions
//
// Heads, KV heads and MLP neurons ranked by score mass within each language (`regions.csv`), the top three of each.

// %%
console.table(data.regions.filter((r: any) => r.rank <= 3).map((r: any) => ({ lang: r.lang, rank: r.rank, tensor: r.tensor, unit: r.unit, index: r.index, score_mass: +r.score_mass.toPrecision(4), selected_share: +r.selected_share.toFixed(3) })));

// %% [markdown]
// The run's own human summary, `summary.md`:

// %%
tslab.display.markdown(fs.readFileSync(path.join(run, 'summary.md'), 'utf8'));

// %% [markdown]
// ## Report figures
//
// `sil report RUN` renders every figure the run folder allows (SVG, CSV, HTML here; PNG too by
// default) into `RUN/report/`. The SVGs are shown inline; the violation and k-sweep figures need the
// evaluation tables of `npm run experiment` and are skipped for a plain locate run.

// %%
const rep = await writeReport(run, path.join(run, 'report'), { formats: ['svg', 'csv', 'html'], force: true });
console.log(`${rep.figures.length} figures in ${rep.outDir}; skipped: ${rep.skipped.map((s: any) => `${s.id} (needs ${s.missing.join(', ')})`).join('; ')}`);
for (const f of rep.figures) tslab.display.html(`<h4>${f.title}</h4>${f.svg}<p><small>${f.caption}</small></p>`);

// %%
if (rep.regionsHtml) tslab.display.html(`<h4>Top regions</h4>${rep.regionsHtml}`);
if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
