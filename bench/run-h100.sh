#!/bin/bash
# Every benchmark side by side in one call on the GPU host (see bench/README.md):
#   node scripts/build-cli.mjs   (here, builds dist/train.js and dist/matmul.js)
#   then on the host, from the repo root:  source .gpu/setup.sh && bash bench/run-h100.sh $OUT
set -uo pipefail
out=${1:-bench-out}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
node dist/matmul.js 2>&1 | tee "$out/matmul.jsonl"
node dist/train.js --models smollm2-135m,qwen2.5-0.5b --steps 20 2>&1 | tee "$out/train.jsonl"
PYTHONUNBUFFERED=1 python3 bench/peft_bench.py --models smollm2-135m,qwen2.5-0.5b --steps 20 2>&1 | grep -v Warning | tee "$out/peft.jsonl"
