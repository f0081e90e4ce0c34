#!/usr/bin/env python3
"""PyTorch-CPU baseline for bench:attr: the same Llama-shaped model, batch and |w·g| accumulation
as `sil` (plain torch modules with the transformers Llama math: RMSNorm, RoPE rotate_half, GQA
repeat_kv, SwiGLU, untied head, mean token cross-entropy), float32, torch.set_num_threads(threads).

    python3 bench/attr_torch.py --layers 8 --threads 2 --steps 2
prints one JSON line: {"tokens_per_s": ..., "step_s": [...], "params": ..., "torch": ..., "blas": ...}
"""
import argparse, json, math, time
import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--layers", type=int, default=8)
p.add_argument("--hidden", type=int, default=1024)
p.add_argument("--heads", type=int, default=16)
p.add_argument("--kv-heads", type=int, default=4)
p.add_argument("--ffn", type=int, default=2816)
p.add_argument("--vocab", type=int, default=32000)
p.add_argument("--batch", type=int, default=4)
p.add_argument("--seq", type=int, default=128)
p.add_argument("--steps", type=int, default=2)
p.add_argument("--threads", type=int, default=1)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
H, NH, NKV, D = a.hidden, a.heads, a.kv_heads, a.hidden // a.heads


class RMSNorm(nn.Module):
    def __init__(self, h, eps=1e-5):
        super().__init__(); self.weight = nn.Parameter(torch.ones(h)); self.eps = eps
    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.q = nn.Linear(H, NH * D, bias=False); self.k = nn.Linear(H, NKV * D, bias=False)
        self.v = nn.Linear(H, NKV * D, bias=False); self.o = nn.Linear(NH * D, H, bias=False)
        self.gate = nn.Linear(H, a.ffn, bias=False); self.up = nn.Linear(H, a.ffn, bias=False)
        self.down = nn.Linear(a.ffn, H, bias=False); self.n1 = RMSNorm(H); self.n2 = RMSNorm(H)
    def forward(self, h, cos, sin, mask):
        B, T, _ = h.shape
        x = self.n1(h)
        q = self.q(x).view(B, T, NH, D).transpose(1, 2)
        k = self.k(x).view(B, T, NKV, D).transpose(1, 2)
        v = self.v(x).view(B, T, NKV, D).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin; k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(NH // NKV, dim=1); v = v.repeat_interleave(NH // NKV, dim=1)
        w = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(D) + mask, dim=-1)
        h = h + self.o((w @ v).transpose(1, 2).reshape(B, T, NH * D))
        x = self.n2(h)
        return h + self.down(F.silu(self.gate(x)) * self.up(x))


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(a.vocab, H); self.layers = nn.ModuleList([Layer() for _ in range(a.layers)])
        self.norm = RMSNorm(H); self.head = nn.Linear(H, a.vocab, bias=False)
        for prm in self.parameters():
            if prm.dim() == 2: nn.init.normal_(prm, std=0.02)
    def forward(self, ids, labels):
        T = ids.shape[1]
        inv = 1.0 / (500000.0 ** (torch.arange(0, D, 2).float() / D))
        fr = torch.outer(torch.arange(T).float(), inv); emb = torch.cat((fr, fr), -1)
        cos, sin = emb.cos(), emb.sin()
        mask = torch.full((T, T), float("-inf")).triu(1)
        h = self.embed(ids)
        for l in self.layers: h = l(h, cos, sin, mask)
        logits = self.head(self.norm(h))
        return F.cross_entropy(logits[:, :-1].reshape(-1, a.vocab), labels[:, 1:].reshape(-1))


m = Model()
params = [q for q in m.parameters()]
acc = [torch.zeros_like(q) for q in params]
g = torch.Generator().manual_seed(1)
ids = torch.randint(0, a.vocab, (a.batch, a.seq), generator=g)
times = []
for step in range(a.steps + 1):
    t0 = time.perf_counter()
    m.zero_grad(set_to_none=True)
    loss = m(ids, ids)
    loss.backward()
    with torch.no_grad():
        for q, s in zip(params, acc): s.add_((q * q.grad).abs())
    if step > 0: times.append(time.perf_counter() - t0)
cfg = torch.__config__.show()
blas = "openblas" if "openblas" in cfg.lower() else "unknown"
try:
    import subprocess
    alt = subprocess.run(["update-alternatives", "--query", "libblas.so.3-x86_64-linux-gnu"], capture_output=True, text=True).stdout
    for line in alt.splitlines():
        if line.startswith("Value:"): blas = line.split(":", 1)[1].strip()
except Exception:
    pass
best = sum(times) / len(times)
print(json.dumps({"tokens_per_s": a.batch * a.seq / best, "step_s": times, "params": sum(q.numel() for q in params),
                  "torch": torch.__version__, "threads": a.threads, "blas": blas, "loss": float(loss)}))
