#!/usr/bin/env bash
# The cuda backend's recorded figures, in one device call (docs/benchmarks/scale.md), run from the
# unpacked project (source .device/run.sh && cd /tmp/sil): the parity suite, bench:scale against
# PyTorch at 16 × 128 and 16 × 512, `sil grad` end to end with the gradients written, and
# `sil finetune` on the demo organism (cuda and wasm) and on a 1B-shaped model, with a device
# profile (SIL_CUDA_PROFILE=device) of the 16 × 128 run. Logs go to $OUT (or /tmp); GOLDENS names
# the golden folders the parity suite reads.
set -u
out=${OUT:-/tmp}
run() { local name=$1; shift; echo "== $name"; local t0=$(date +%s.%N); timeout "$@" 2>&1 | tail -${TAIL:-3}; echo "   ($(awk "BEGIN{print $(date +%s.%N) - $t0}") s)"; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c 'import torch; print("torch", torch.__version__)'
echo "== parity"; SIL_GOLDENS=$GOLDENS timeout 200 node scripts/gpu/parity.js > $out/parity.log 2>&1; grep -v '^PASS' $out/parity.log | tail -12
run "bench:scale cuda 16x128" 150 node bench/scale.js --backend cuda --no-write --passes 4 --dir /tmp/ck
run "torch 16x128" 150 python3 bench/scale_torch.py
# where the GPU's time goes (CUDA events around every launch and product; the steady passes only)
echo "== device profile 16x128"; SIL_CUDA_PROFILE=device timeout 150 node bench/scale.js --backend cuda --no-write --passes 3 --dir /tmp/ck > $out/devprof.log 2>&1; grep -A12 'device profile' $out/devprof.log; grep -A6 'GPU idle' $out/devprof.log
run "bench:scale cuda 16x512" 150 node bench/scale.js --backend cuda --no-write --passes 4 --tokens 512 --dir /tmp/ck
run "torch 16x512" 120 python3 bench/scale_torch.py --tokens 512
run "sil grad end to end (gradients written, 16x128)" 200 node bench/scale.js --backend cuda --weight-cache auto --dir /tmp/ck
rm -f /tmp/ck.grads.safetensors
head -16 data/demo-attack-en.jsonl > /tmp/ft16.jsonl
# one line per fine-tune: steps, seconds (whole command), per-step seconds after the first, first and last loss
summary='let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s.slice(s.indexOf("{")));const l=j.log.map(x=>x.seconds);const r=l.slice(1);console.log(JSON.stringify({backend:j.backend,parameters:j.parameters,steps:j.steps,seconds:j.seconds,step_seconds:l.map(x=>+x.toFixed(3)),steady_steps_per_s:r.length?+(r.length/r.reduce((a,b)=>a+b,0)).toFixed(2):null,first_loss:j.first_loss,final_loss:j.final_loss}))})'
for b in cuda wasm; do
  TAIL=2 run "finetune demo $b (100 examples, 4 x 4 per step)" 120 sh -c "node dist/cli/main.js finetune --backend $b --model weights/demo/base --data data/demo-attack-en.jsonl --out /tmp/ft-$b --lr 3e-4 --epochs 1 --warmup 2 --grad-accum 4 --batch-size 4 --seed 0 --force --json | node -e '$summary'"
done
run "1B-shaped checkpoint (Llama-3.2-1B layers, untied head)" 120 node bench/scale.js --backend cuda --no-write --layers 16 --hidden 2048 --ffn 8192 --heads 32 --kv-heads 8 --head-dim 64 --seqs 16 --tokens 128 --passes 3 --dir /tmp/ck1b
cp weights/demo/base/tokenizer.json weights/demo/base/tokenizer_config.json /tmp/ck1b/
TAIL=2 run "finetune 1B-shaped cuda (16 examples, 4 per step)" 200 sh -c "node dist/cli/main.js finetune --backend cuda --model /tmp/ck1b --data /tmp/ft16.jsonl --out /tmp/ft-1b --lr 1e-5 --epochs 1 --warmup 1 --grad-accum 1 --batch-size 4 --seed 0 --force --json | node -e '$summary'"
