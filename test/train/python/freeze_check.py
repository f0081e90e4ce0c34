"""Runs a PyTorch freezing snippet on a checkpoint's tensors and reports what moved.

    python3 freeze_check.py SNIPPET.py CHECKPOINT.safetensors MASK.safetensors OPTIMIZER STEPS

The model is a module tree whose named_parameters() are the checkpoint's tensor names (float32);
its "loss" is Σ_p Σ (p ⊙ r_p) + ½ Σ p² with fixed random r_p, so every entry has a non-zero
gradient. `loader` yields STEPS batches. The snippet runs with `model` and `loader` defined, in
the folder that holds reports/RUN/masks/. For OPTIMIZER other than `snippet`, `torch.optim.AdamW`
in the snippet is replaced by that optimizer (sgd-wd: SGD with momentum 0.9 and weight decay 0.01).
Prints JSON: per run, masked entries, how many of them changed, unmasked entries changed.
"""
import json
import sys
import types

import torch
from safetensors.torch import load_file

snippet_file, ckpt_file, mask_file, optimizer, steps = sys.argv[1:6]
steps = int(steps)
torch.manual_seed(0)

weights = {k: v.to(torch.float32) for k, v in load_file(ckpt_file).items()}


class Model(torch.nn.Module):
    def forward(self, x):
        loss = 0.0
        for name, p in self.named_parameters():
            loss = loss + (p * self.r[name]).sum() + 0.5 * (p * p).sum() * x
        return types.SimpleNamespace(loss=loss)


model = Model()
for name, w in weights.items():
    *path, leaf = name.split(".")
    m = model
    for part in path:
        if not hasattr(m, part):
            m.add_module(part, torch.nn.Module())
        m = getattr(m, part)
    m.register_parameter(leaf, torch.nn.Parameter(w.clone()))
model.r = {n: torch.randn_like(p) for n, p in model.named_parameters()}
loader = [{"x": torch.tensor(1.0)} for _ in range(steps)]
before = {n: p.detach().clone() for n, p in model.named_parameters()}

code = open(snippet_file).read()
if optimizer == "sgd-wd":
    code = code.replace("torch.optim.AdamW(model.parameters(), lr=2e-5)", "torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9, weight_decay=0.01)")
    assert "torch.optim.SGD" in code, "the snippet has no AdamW line to replace"
exec(compile(code, snippet_file, "exec"), {"model": model, "loader": loader, "__name__": "__snippet__"})

mask = load_file(mask_file)
masked = changed_masked = unmasked = changed_unmasked = 0
for n, p in model.named_parameters():
    diff = p.detach() != before[n]
    m = mask[n].bool() if n in mask else torch.zeros_like(diff)
    masked += int(m.sum())
    changed_masked += int((diff & m).sum())
    unmasked += int((~m).sum())
    changed_unmasked += int((diff & ~m).sum())
print(json.dumps({"masked": masked, "changed_masked": changed_masked, "unmasked": unmasked, "changed_unmasked": changed_unmasked}))
