// The notebook 03-freeze-mask.ipynb in jupytext's percent format: `node notebooks/make.js` writes it from this file.
// Cells start at `// %%` (code, TypeScript for the tslab kernel) or `// %% [markdown]` (each line after `// `).
export {};

// %% [markdown]
// # Export a freeze mask and use it in PyTorch
//
// A mask γ has one 0/1 entry per parameter, stored as safetensors under the checkpoint's own tensor
// names. Here we select the top 5% of parameters by weight change |Δ| = |θ_attacked − θ_base| (the
// `weightdiff` score) on the tiny pair in `weights/tiny`, write the mask, read it back, and show how
// PyTorch freezes the masked entries. `sil locate` does the same with gradient-based scores and an
// exact streamed top-k; the library modules used here are the ones it is built from.
//
// Run `npm run build` first: the notebook loads the compiled library from `dist/`.

// %%
const path = require('node:path');
const os = require('node:os');
const fs = require('node:fs');
const { Checkpoint } = require('../dist/io/checkpoint');
const { writeMask, readMask } = require('../dist/mask/maskfile');
const { maskSize } = require('../dist/mask/mask');

const base = Checkpoint.open('../weights/tiny/base');
const attacked = Checkpoint.open('../weights/tiny/attacked');
console.log(base.names().length, 'tensors,', base.numel(), 'parameters');

// %% [markdown]
// Score every parameter by |Δ| and find the global threshold for k = 5% (ties at the threshold are all kept).

// %%
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

// %%
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

// %% [markdown]
// Where the selected entries are: the five tensors with the largest selected share.

// %%
const rows = back.tensors.map((t: { name: string; data: Uint8Array }) => ({ tensor: t.name, selected: t.data.reduce((a, b) => a + b, 0), numel: t.data.length }))
  .map((r: { tensor: string; selected: number; numel: number }) => ({ ...r, share: +(r.selected / r.numel).toFixed(3) }))
  .sort((a: { share: number }, b: { share: number }) => b.share - a.share).slice(0, 5);
console.table(rows);

// %% [markdown]
// ## In PyTorch
//
// The file loads with `safetensors.torch.load_file`. To keep the masked entries unchanged while
// fine-tuning, put them back after every `optimizer.step()`: zeroing their gradient with a hook is
// not enough, because AdamW's decoupled weight decay (and SGD's `weight_decay`, and momentum from
// earlier steps) moves entries whose gradient is zero. `sil finetune --freeze FILE` takes the same
// file. (Invert the mask — `sil mask invert` — to train only those entries instead.)

// %%
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
