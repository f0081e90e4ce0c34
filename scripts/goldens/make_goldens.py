#!/usr/bin/env python3
"""Writes extra parity goldens for `sil`'s model runtime, in the layout of the shared hf-tiny
fixtures: OUTDIR/<case>/base/ (a tiny random model saved with save_pretrained, safetensors),
OUTDIR/<case>/golden.json (batch, loss, stats) and OUTDIR/<case>/golden.safetensors (float32
`logits` [B, T, V], `grad/<name>` and `snip/<name>` = |θ ⊙ ∂loss/∂θ| for every parameter).

    python3 scripts/goldens/make_goldens.py OUTDIR          # e.g. test/goldens

Needs torch (2.x) and transformers 5.x (4.4x also works); CPU, float32, eager attention; no hub
access.

    python3 scripts/goldens/make_goldens.py --ops OUTFILE [SHARED]   # test/goldens/torch-ops.json

writes the PyTorch goldens of the operations around the model, on the shared hf-tiny fixtures
(SHARED defaults to ../shared beside the checkout): the sil score |Δ| ⊙ |g| in float64 from the
golden gradients and Δ, Wanda's layer-input norms ‖X_j‖₂ from a float32 forward pass (checked
against the fixtures' transformers logits first), and a few `torch.optim.AdamW` steps. Needs only
torch (1.13 or later, e.g. Debian's python3-torch) and the standard library. Everything is computed on the model *as saved* (weights cast to the stored dtype, then
loaded back as float32), exactly what `sil` reads. Cases cover what the shared fixtures do not:
F16 and F32 storage, MHA, Mistral with head_dim ≠ hidden/heads, Llama with attention/MLP biases,
an untied Qwen2, `linear` RoPE, transformers 4.x config files (rewritten after saving and read back
by transformers itself), and longer sequences. Output stays well under 3 MB.
"""
import json
import math
import os
import shutil
import sys
import tempfile

import torch

VOCAB = 128
COMMON = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, rms_norm_eps=1e-5,
              max_position_embeddings=4096, initializer_range=0.05, pad_token_id=0, bos_token_id=1, eos_token_id=2,
              hidden_act="silu")

CASES = [
    # name, model_type/architecture, extra config, rope (5.x form), stored dtype, 4.x config?, batch (B, T)
    dict(name="llama-mha-f32-linear-rope", arch="LlamaForCausalLM", model_type="llama",
         cfg=dict(num_attention_heads=4, num_key_value_heads=4, tie_word_embeddings=False),
         rope=dict(rope_type="linear", rope_theta=10000.0, factor=2.0), dtype=torch.float32, v4=True, batch=(2, 40)),
    dict(name="llama-gqa-f16-llama3-long", arch="LlamaForCausalLM", model_type="llama",
         cfg=dict(num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False),
         rope=dict(rope_type="llama3", rope_theta=500000.0, factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                   original_max_position_embeddings=64), dtype=torch.float16, v4=False, batch=(2, 192)),
    dict(name="llama-bias-f32-tied", arch="LlamaForCausalLM", model_type="llama",
         cfg=dict(num_attention_heads=2, num_key_value_heads=1, attention_bias=True, mlp_bias=True, tie_word_embeddings=True),
         rope=dict(rope_type="default", rope_theta=10000.0), dtype=torch.float32, v4=True, batch=(3, 24)),
    dict(name="mistral-headdim-bf16", arch="MistralForCausalLM", model_type="mistral",
         cfg=dict(num_attention_heads=4, num_key_value_heads=2, head_dim=16, sliding_window=4096, tie_word_embeddings=False),
         rope=dict(rope_type="default", rope_theta=1000000.0), dtype=torch.bfloat16, v4=True, batch=(2, 48)),
    dict(name="qwen2-untied-f16", arch="Qwen2ForCausalLM", model_type="qwen2",
         cfg=dict(num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False, use_sliding_window=False,
                  sliding_window=None, max_window_layers=2),
         rope=dict(rope_type="default", rope_theta=1000000.0), dtype=torch.float16, v4=False, batch=(2, 56)),
]

DTYPE_NAME = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}


def load_float32(path):
    from transformers import AutoModelForCausalLM
    try:
        return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="eager")
    except TypeError:
        return AutoModelForCausalLM.from_pretrained(path, torch_dtype=torch.float32, attn_implementation="eager")


def to_v4_config(path, case):
    """Rewrites a saved config.json into the transformers 4.x form real checkpoints carry."""
    p = os.path.join(path, "config.json")
    c = json.load(open(p))
    rope = c.pop("rope_parameters", None) or dict(case["rope"])
    c["rope_theta"] = rope.get("rope_theta", case["rope"]["rope_theta"])
    extra = {k: v for k, v in rope.items() if k != "rope_theta"}
    c["rope_scaling"] = None if extra.get("rope_type", "default") == "default" else extra
    if "dtype" in c:
        c["torch_dtype"] = c.pop("dtype")
    if case["model_type"] == "llama" and c.get("head_dim") == c["hidden_size"] // c["num_attention_heads"]:
        c.pop("head_dim")
    c.pop("layer_types", None)
    json.dump(c, open(p, "w"), indent=2, sort_keys=True)


def make_batch(gen, b, t):
    ids, mask, labels = [], [], []
    for i in range(b):
        n = t - (0 if i == b - 1 else int(torch.randint(3, max(4, t // 4), (1,), generator=gen)))
        prompt = max(2, n * 2 // 5)
        row = [1] + torch.randint(3, VOCAB, (n - 2,), generator=gen).tolist() + [2]
        ids.append(row + [0] * (t - n))
        mask.append([1] * n + [0] * (t - n))
        labels.append([-100] * prompt + row[prompt:] + [-100] * (t - n))
    return ids, mask, labels


def stats(x):
    x = x.double()
    return dict(l2=float(x.norm()), max_abs=float(x.abs().max()), mean_abs=float(x.abs().mean()),
                nonzero=int((x != 0).sum()), numel=x.numel())


def make_case(case, out_root, seed):
    import transformers
    from safetensors.torch import save_file
    from transformers import AutoConfig

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed + 1)
    out = os.path.join(out_root, case["name"])
    shutil.rmtree(out, ignore_errors=True)
    base = os.path.join(out, "base")
    cfg_dict = dict(COMMON, **case["cfg"], architectures=[case["arch"]], model_type=case["model_type"],
                    rope_parameters=dict(case["rope"]), rope_theta=case["rope"]["rope_theta"],
                    rope_scaling=None if case["rope"]["rope_type"] == "default" else dict(case["rope"]))
    with tempfile.TemporaryDirectory() as tmp:
        json.dump(cfg_dict, open(os.path.join(tmp, "config.json"), "w"))
        config = AutoConfig.from_pretrained(tmp)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="eager").to(case["dtype"])
    try:
        model.save_pretrained(base, safe_serialization=True)
    except TypeError:
        model.save_pretrained(base)
    if case["v4"]:
        to_v4_config(base, case)
    model = load_float32(base)
    model.eval()
    rp = getattr(model.config, "rope_parameters", None) or getattr(model.config, "rope_scaling", None) or {}
    want_type = case["rope"]["rope_type"]
    got_type = (rp or {}).get("rope_type", (rp or {}).get("type", "default"))
    assert got_type == want_type, f"{case['name']}: config read back with rope type {got_type}, expected {want_type}"

    b, t = case["batch"]
    ids, mask, labels = make_batch(gen, b, t)
    out_ = model(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask), labels=torch.tensor(labels))
    out_.loss.backward()
    tensors = {"logits": out_.logits.detach().float().contiguous()}
    info = {}
    for name, p in model.named_parameters():
        g = p.grad.detach().float()
        snip = (p.detach().float() * g).abs()
        tensors[f"grad/{name}"] = g.contiguous()
        tensors[f"snip/{name}"] = snip.contiguous()
        info[name] = dict(shape=list(p.shape), weight_l2=float(p.detach().double().norm()), grad=stats(g),
                          snip_sum=float(snip.double().sum()))
    save_file(tensors, os.path.join(out, "golden.safetensors"), metadata={"format": "pt"})
    golden = dict(
        name=case["name"], architecture=case["arch"], save_dtype=str(case["dtype"]), sharded=False,
        config_form="transformers 4.x" if case["v4"] else "transformers 5.x",
        generator=f"scripts/goldens/make_goldens.py, torch {torch.__version__}, transformers {transformers.__version__}",
        input_ids=ids, attention_mask=mask, labels=labels,
        loss_definition="mean token cross-entropy over positions whose label != -100 (labels shifted by one as in transformers)",
        loss=float(out_.loss.detach()), logits_last_token_first8=out_.logits.detach()[:, -1, :8].tolist(), tensors=info)
    json.dump(golden, open(os.path.join(out, "golden.json"), "w"))
    return out


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "--ops":
        from ops_goldens import write_ops_goldens
        here = os.path.dirname(os.path.abspath(__file__))
        shared = sys.argv[3] if len(sys.argv) > 3 else os.path.join(here, "..", "..", "..", "shared")
        write_ops_goldens(sys.argv[2], shared)
        return
    if len(sys.argv) != 2:
        sys.exit("usage: make_goldens.py OUTDIR | make_goldens.py --ops OUTFILE [SHARED]")
    root = sys.argv[1]
    os.makedirs(root, exist_ok=True)
    total = 0
    for k, case in enumerate(CASES):
        d = make_case(case, root, 1000 + k)
        size = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(d) for f in fs)
        total += size
        print(f"{case['name']}: {size / 1e3:.0f} kB")
    print(f"total {total / 1e6:.2f} MB in {root}")
    if total > 3e6:
        sys.exit("output exceeds 3 MB")


if __name__ == "__main__":
    main()
