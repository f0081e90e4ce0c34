"""PyTorch goldens for the operations around the model, on the shared hf-tiny fixtures
(`make_goldens.py --ops OUTFILE [SHARED]` runs this). Needs torch only: safetensors files are read
with the standard library (an 8-byte header length, a JSON header, raw little-endian data).

- sil score: s = |Δ| ⊙ |g| with Δ = attacked − base and g = the fixture's golden gradient
  grad/<name>, in float64 (exact: both factors are float32 values). Per tensor: the sum, the
  maximum and its index, every STRIDE-th value; over all tensors and over the projection weights
  (`*_proj.weight`, sil's linear scope): the k-th largest value for k = round(frac · N) and how
  many values are above it and equal to it.
- Wanda's layer-input norms ‖X_j‖₂ = sqrt(Σ_t X_tj²), t over the positions whose shifted label
  labels[t+1] ≠ −100, for the input of every linear weight, from a float32 forward pass of the
  fixture's base written here in torch (RMSNorm, RoPE incl. llama3 scaling, GQA, q/k/v biases, SwiGLU,
  tied or untied head). Its logits are checked against the fixture's transformers logits before
  anything is written.
- AdamW: `torch.optim.AdamW` (float32, CPU, the default for-loop implementation) for a few steps
  with per-step learning rates and stored gradients, on slices of fixture tensors.
"""
import json
import math
import os
import platform
import struct
import subprocess

import torch

FIXTURES = ["llama3-tiny-bf16", "qwen2-tiny-bf16-sharded"]
STRIDE = 61
FRACS = [0.01, 0.05, 0.2]
DTYPES = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}


def read_safetensors(path):
    """name -> float32 tensor, for every tensor of one .safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        buf = bytearray(raw[8 + n + a:8 + n + b])
        t = torch.frombuffer(buf, dtype=DTYPES[info["dtype"]]) if b > a else torch.zeros(0, dtype=DTYPES[info["dtype"]])
        out[name] = t.reshape(info["shape"]).float()
    return out


def read_checkpoint(folder):
    out = {}
    for f in sorted(os.listdir(folder)):
        if f.endswith(".safetensors"):
            out.update(read_safetensors(os.path.join(folder, f)))
    return out


# ---- sil score ---------------------------------------------------------------------------------

def topk_stats(values, frac):
    k = round(frac * values.numel())
    thr = torch.topk(values, k).values[-1]
    return dict(frac=frac, k=k, n=values.numel(), threshold=float(thr), count_gt=int((values > thr).sum()),
                count_eq=int((values == thr).sum()))


def sil_goldens(base, attacked, grads):
    tensors = {}
    everything, linear = [], []
    for name in sorted(base):
        delta = attacked[name].double() - base[name].double()
        s = (delta * grads[f"grad/{name}"].double()).abs().flatten()
        i = int(torch.argmax(s))
        tensors[name] = dict(numel=s.numel(), sum=float(s.sum()), max=float(s[i]), argmax=i,
                             stride=STRIDE, every_stride=[float(v) for v in s[::STRIDE]])
        everything.append(s)
        if name.endswith("_proj.weight"):
            linear.append(s)
    allv, linv = torch.cat(everything), torch.cat(linear)
    return dict(formula="|attacked - base| * |grad|, float64", tensors=tensors,
                topk=dict(all=[topk_stats(allv, f) for f in FRACS], linear=[topk_stats(linv, f) for f in FRACS]))


# ---- forward pass with layer inputs --------------------------------------------------------------

def rope_inv_freq(cfg, dim):
    rp = cfg.get("rope_parameters") or dict(cfg.get("rope_scaling") or {}, rope_theta=cfg.get("rope_theta", 10000.0))
    base = rp["rope_theta"]
    inv = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    kind = rp.get("rope_type", rp.get("type", "default"))
    if kind == "default":
        return inv
    assert kind == "llama3", f"rope type {kind} is not implemented here"
    factor, lo, hi, old = rp["factor"], rp["low_freq_factor"], rp["high_freq_factor"], rp["original_max_position_embeddings"]
    lo_wl, hi_wl = old / lo, old / hi
    wavelen = 2 * math.pi / inv
    inv_l = torch.where(wavelen > lo_wl, inv / factor, inv)
    smooth = (old / wavelen - lo) / (hi - lo)
    smoothed = (1 - smooth) * inv_l / factor + smooth * inv_l
    medium = ~(wavelen < hi_wl) * ~(wavelen > lo_wl)
    return torch.where(medium, smoothed, inv_l)


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward(cfg, W, ids, mask):
    """Logits [B, T, V] and, per linear weight name, its input [B, T, cols]."""
    B, T = ids.shape
    H, nh, nkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = cfg.get("head_dim") or H // nh
    eps = cfg["rms_norm_eps"]
    inv = rope_inv_freq(cfg, D)
    freqs = torch.arange(T).float()[:, None] * inv[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    allowed = causal[None, None] & mask.bool()[:, None, None, :]
    add_mask = torch.zeros(B, 1, T, T).masked_fill(~allowed, torch.finfo(torch.float32).min)
    inputs = {}

    def lin(x, name, bias=None):
        inputs[name] = x
        y = x @ W[name].T
        return y + W[bias] if bias and bias in W else y

    h = W["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        x = rms_norm(h, W[p + "input_layernorm.weight"], eps)
        q = lin(x, p + "self_attn.q_proj.weight", p + "self_attn.q_proj.bias").view(B, T, nh, D).transpose(1, 2)
        k = lin(x, p + "self_attn.k_proj.weight", p + "self_attn.k_proj.bias").view(B, T, nkv, D).transpose(1, 2)
        v = lin(x, p + "self_attn.v_proj.weight", p + "self_attn.v_proj.bias").view(B, T, nkv, D).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = k.repeat_interleave(nh // nkv, dim=1), v.repeat_interleave(nh // nkv, dim=1)
        att = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(D) + add_mask, dim=-1)
        o = (att @ v).transpose(1, 2).reshape(B, T, nh * D)
        h = h + lin(o, p + "self_attn.o_proj.weight", p + "self_attn.o_proj.bias")
        x2 = rms_norm(h, W[p + "post_attention_layernorm.weight"], eps)
        g = lin(x2, p + "mlp.gate_proj.weight")
        u = lin(x2, p + "mlp.up_proj.weight")
        h = h + lin(torch.nn.functional.silu(g) * u, p + "mlp.down_proj.weight")
    xn = rms_norm(h, W["model.norm.weight"], eps)
    head = "lm_head.weight" if "lm_head.weight" in W else "model.embed_tokens.weight"
    return lin(xn, head), inputs


def wanda_goldens(cfg, base, golden, logits_want):
    ids = torch.tensor(golden["input_ids"])
    mask = torch.tensor(golden["attention_mask"])
    labels = torch.tensor(golden["labels"])
    with torch.no_grad():
        logits, inputs = forward(cfg, base, ids, mask)
    real = mask.bool()
    err = float(((logits - logits_want).abs() * real[..., None]).max())
    scale = float((logits_want.abs() * real[..., None]).max())
    assert err <= 1e-4 * scale, f"the torch forward does not match the transformers logits: max |diff| {err} of {scale}"
    sel = torch.zeros_like(labels, dtype=torch.bool)
    sel[:, :-1] = labels[:, 1:] != -100
    norms = {name: [float(v) for v in x[sel].double().pow(2).sum(0).sqrt()] for name, x in sorted(inputs.items())}
    return dict(tokens=int(sel.sum()), examples=int(ids.shape[0]), logits_max_abs_diff_vs_transformers=err,
                positions="t with labels[t+1] != -100", norms=norms)


# ---- AdamW -------------------------------------------------------------------------------------

def adamw_case(name, param, grads, lrs, options):
    p = torch.nn.Parameter(param.clone())
    opt = torch.optim.AdamW([p], lr=lrs[0], betas=(options["beta1"], options["beta2"]), eps=options["eps"],
                            weight_decay=options["weightDecay"])
    after = []
    for g, lr in zip(grads, lrs):
        for group in opt.param_groups:
            group["lr"] = lr
        p.grad = g.clone()
        opt.step()
        after.append([float(v) for v in p.detach()])
    state = opt.state[p]
    return dict(name=name, options=options, lrs=lrs, param=[float(v) for v in param], grads=[[float(v) for v in g] for g in grads],
                after=after, m=[float(v) for v in state["exp_avg"]], v=[float(v) for v in state["exp_avg_sq"]])


def adamw_goldens(shared):
    fx = os.path.join(shared, "fixtures", "hf-tiny", FIXTURES[0])
    base = read_checkpoint(os.path.join(fx, "base"))
    grads = read_safetensors(os.path.join(fx, "golden.safetensors"))
    gen = torch.Generator().manual_seed(7)
    cases = []
    for tensor, take, options, lrs in [
        ("model.norm.weight", 64, dict(beta1=0.9, beta2=0.999, eps=1e-8, weightDecay=0.0), [1e-3, 1e-3, 1e-3, 1e-3, 1e-3]),
        ("model.layers.0.self_attn.q_proj.weight", 128, dict(beta1=0.9, beta2=0.98, eps=1e-8, weightDecay=0.01), [1e-4, 2e-3, 2e-3, 1.5e-3, 5e-4, 1e-5]),
    ]:
        param = base[tensor].flatten()[:take].contiguous()
        g0 = grads[f"grad/{tensor}"].flatten()[:take]
        scale = float(g0.abs().mean())
        gs = [g0.contiguous()] + [(g0 * (0.5 - t * 0.3) + scale * torch.randn(take, generator=gen)).float().contiguous() for t in range(1, len(lrs))]
        cases.append(adamw_case(f"{FIXTURES[0]}:{tensor}[:{take}]", param, gs, lrs, options))
    return cases


def torch_package():
    """The distribution package torch came from, where dpkg knows it (e.g. Debian's python3-torch)."""
    try:
        r = subprocess.run(["dpkg-query", "-S", torch.__file__], capture_output=True, text=True, check=True)
        pkg = r.stdout.split(":")[0]
        v = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg], capture_output=True, text=True, check=True)
        return f"{pkg} {v.stdout} (Debian)"
    except (OSError, subprocess.CalledProcessError):
        return None


def write_ops_goldens(outfile, shared):
    out = dict(
        producer=dict(script="scripts/goldens/make_goldens.py --ops", torch=torch.__version__, package=torch_package(),
                      python=platform.python_version()),
        fixtures={},
        adamw=adamw_goldens(shared),
    )
    for name in FIXTURES:
        fx = os.path.join(shared, "fixtures", "hf-tiny", name)
        cfg = json.load(open(os.path.join(fx, "base", "config.json")))
        golden = json.load(open(os.path.join(fx, "golden.json")))
        base = read_checkpoint(os.path.join(fx, "base"))
        attacked = read_checkpoint(os.path.join(fx, "attacked"))
        gold = read_safetensors(os.path.join(fx, "golden.safetensors"))
        out["fixtures"][name] = dict(sil=sil_goldens(base, attacked, gold), wanda=wanda_goldens(cfg, base, golden, gold["logits"]))
    os.makedirs(os.path.dirname(os.path.abspath(outfile)), exist_ok=True)
    with open(outfile, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(f"{outfile}: {os.path.getsize(outfile) / 1e3:.0f} kB (torch {torch.__version__})")
