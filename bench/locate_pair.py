"""Writes bench:locate's Llama-3.1-8B-shaped random BF16 pair (same names, shapes and config.json as
bench/locate.js) with PyTorch, on the GPU when there is one: much faster than the JS writer for the
full 8B shape. base ~ U(-0.05, 0.05) (norm weights 1), attacked = base + U(-0.002, 0.002), seeded.
Then `node bench/locate.js --pair DIR ...` adds the tokenizer and runs `sil locate` on it.

    python3 bench/locate_pair.py --dir DIR [--layers 32] [--hidden 4096] [--vocab 128256]
"""
import argparse, json, os, time
import torch
from safetensors.torch import save_file

ap = argparse.ArgumentParser()
ap.add_argument('--dir', required=True)
ap.add_argument('--layers', type=int, default=32)
ap.add_argument('--hidden', type=int, default=4096)
ap.add_argument('--vocab', type=int, default=128256)
a = ap.parse_args()
H, L, V = a.hidden, a.layers, a.vocab
heads = H // 128
kv = heads // 4
F = round(3.5 * H / 256) * 256
cfg = {
    'architectures': ['LlamaForCausalLM'], 'model_type': 'llama', 'vocab_size': V, 'hidden_size': H, 'intermediate_size': F,
    'num_hidden_layers': L, 'num_attention_heads': heads, 'num_key_value_heads': kv, 'head_dim': 128, 'max_position_embeddings': 8192,
    'rms_norm_eps': 1e-5, 'rope_theta': 500000.0, 'rope_scaling': None, 'hidden_act': 'silu', 'tie_word_embeddings': False,
    'torch_dtype': 'bfloat16', 'bos_token_id': 1, 'eos_token_id': 2,
}
shapes = [('model.embed_tokens.weight', (V, H))]
for l in range(L):
    p = f'model.layers.{l}.'
    shapes += [(p + 'self_attn.q_proj.weight', (heads * 128, H)), (p + 'self_attn.k_proj.weight', (kv * 128, H)),
               (p + 'self_attn.v_proj.weight', (kv * 128, H)), (p + 'self_attn.o_proj.weight', (H, heads * 128)),
               (p + 'mlp.gate_proj.weight', (F, H)), (p + 'mlp.up_proj.weight', (F, H)), (p + 'mlp.down_proj.weight', (H, F)),
               (p + 'input_layernorm.weight', (H,)), (p + 'post_attention_layernorm.weight', (H,))]
shapes += [('model.norm.weight', (H,)), ('lm_head.weight', (V, H))]
dev = 'cuda' if torch.cuda.is_available() else 'cpu'
g = torch.Generator(device=dev).manual_seed(0)
t0 = time.time()
base, att = {}, {}
for name, shape in shapes:
    if len(shape) == 1:
        b = torch.ones(shape, device=dev, dtype=torch.bfloat16)
    else:
        b = ((torch.rand(shape, device=dev, generator=g) * 2 - 1) * 0.05).to(torch.bfloat16)
    x = (b.float() + (torch.rand(shape, device=dev, generator=g) * 2 - 1) * 0.002).to(torch.bfloat16)
    base[name], att[name] = b.cpu(), x.cpu()
for side, d in (('base', base), ('attacked', att)):
    os.makedirs(os.path.join(a.dir, side), exist_ok=True)
    save_file(d, os.path.join(a.dir, side, 'model.safetensors'), metadata={'format': 'pt'})
    with open(os.path.join(a.dir, side, 'config.json'), 'w') as f:
        json.dump(cfg, f, indent=2)
n = sum(torch.Size(s).numel() for _, s in shapes)
print(json.dumps({'params': n, 'seconds': round(time.time() - t0, 1), 'dir': a.dir}))
