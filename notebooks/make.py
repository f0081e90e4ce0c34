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

The file loads with `safetensors.torch.load_file`; a gradient hook zeroes the gradient of every
masked entry, so fine-tuning leaves the localized safety parameters untouched (invert the mask —
`sil mask invert` — to train only them instead).
"""),
("code", """
const snippet = `import torch
from safetensors.torch import load_file
mask = load_file("${path.basename(file)}")          # {tensor name: uint8 0/1, same shape}
for name, p in model.named_parameters():
    if name in mask: p.register_hook(lambda g, m=mask[name].to(g.device, torch.bool): g.masked_fill(m, 0))`;
console.log(snippet);
base.close(); attacked.close();
fs.rmSync(dir, { recursive: true, force: true });
"""),
]

NOTEBOOKS = {"03-freeze-mask.ipynb": FREEZE}

if __name__ == "__main__":
    for name, cells in NOTEBOOKS.items():
        with open(name, "w") as f:
            json.dump(nb(cells), f, indent=1, ensure_ascii=False)
            f.write("\n")
