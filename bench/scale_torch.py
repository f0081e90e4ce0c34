"""PyTorch baseline for bench:scale: a Llama-3.1-8B-shaped model (random init, bf16, on the GPU),
forward + backward of 16 sequences x 128 tokens (every position labelled), then |w * g| accumulated
into float32 per parameter, as `sil` does for its scores. Prints one JSON line.

    python3 bench/scale_torch.py [--layers 32] [--seqs 16] [--tokens 128] [--reps 3]
"""
import argparse, json, time
import torch
from transformers import LlamaConfig, LlamaForCausalLM

ap = argparse.ArgumentParser()
ap.add_argument('--layers', type=int, default=32)
ap.add_argument('--seqs', type=int, default=16)
ap.add_argument('--tokens', type=int, default=128)
ap.add_argument('--reps', type=int, default=3)
a = ap.parse_args()

cfg = LlamaConfig(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=a.layers,
                  num_attention_heads=32, num_key_value_heads=8, head_dim=128, rms_norm_eps=1e-5, rope_theta=500000.0,
                  max_position_embeddings=131072, tie_word_embeddings=False,
                  rope_scaling={'factor': 8.0, 'low_freq_factor': 1.0, 'high_freq_factor': 4.0,
                                'original_max_position_embeddings': 8192, 'rope_type': 'llama3'})
cfg._attn_implementation = 'eager'
torch.manual_seed(0)
with torch.device('cuda'):
    model = LlamaForCausalLM(cfg).to(torch.bfloat16)
params = [p for p in model.parameters()]
acc = [torch.zeros_like(p, dtype=torch.float32) for p in params]
ids = torch.randint(0, cfg.vocab_size, (a.seqs, a.tokens), device='cuda')


def step():
    model.zero_grad(set_to_none=True)
    out = model(input_ids=ids, labels=ids)
    out.loss.backward()
    with torch.no_grad():
        for p, s in zip(params, acc):
            s.add_((p.float() * p.grad.float()).abs())
    return out.loss


step()
torch.cuda.synchronize()
times = []
for _ in range(a.reps):
    t0 = time.perf_counter()
    loss = step()
    torch.cuda.synchronize()
    times.append(time.perf_counter() - t0)
best = min(times)
print(json.dumps({'bench': 'scale_torch', 'torch': torch.__version__, 'gpu': torch.cuda.get_device_name(0), 'layers': a.layers,
                  'params': sum(p.numel() for p in params), 'seqs': a.seqs, 'tokens_per_seq': a.tokens, 'attn': 'eager',
                  'seconds_best': round(best, 4), 'tokens_per_s': round(a.seqs * a.tokens / best, 1), 'loss': float(loss),
                  'peak_gpu_gib': round(torch.cuda.max_memory_allocated() / 2**30, 2)}))
