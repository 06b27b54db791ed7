#!/bin/bash
# Every benchmark side by side in one call on the GPU host (see bench/README.md). Here, first:
#   node scripts/build-cli.mjs            (dist/train.js, dist/matmul.js, ...)   and   bash ../shared/gpu/pack.sh   (.gpu/)
# then on the host, from the repo root, with .gpu/, dist/train.js and dist/matmul.js carried along:
#   source .gpu/setup.sh && bash bench/run-h100.sh $OUT
# Writes into OUT (each JSON line appended as soon as it is measured, so a run cut short keeps what it did):
#   gpu.txt                 the GPU, driver, memory
#   train-methods.jsonl     WebLoRA, every method of bench/methods.json on the SmolLM2-135M shape (+ LoRA on Qwen2.5-0.5B)
#   peft-methods.jsonl      PyTorch + PEFT, the methods PEFT has, fp32 and bf16 autocast, the same shapes
#   methods-table.md        the README table (bench/method-table.mjs)
#   matmul.jsonl            the matmul kernels (last: the longest to lose if the call runs out of time)
#   log.txt                 everything the programs printed besides their JSON lines
# BENCH_STEPS (20), BENCH_METHODS (all), BENCH_QWEN (1: also LoRA on the Qwen2.5-0.5B shape), BENCH_KERNELS (1).
set -uo pipefail
out=${1:-bench-out}
steps=${BENCH_STEPS:-20}
methods=${BENCH_METHODS:-lora,loraplus,vera,lorafa,loradrop,adalora,dora,deltalora}
mkdir -p "$out"
log="$out/log.txt"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
t0=$SECONDS
stamp() { echo "== $1 ($((SECONDS - t0)) s)" | tee -a "$log"; }

stamp "WebLoRA: methods on smollm2-135m"
node dist/train.js --models smollm2-135m --methods "$methods" --steps "$steps" --out "$out/train-methods.jsonl" >>"$log" 2>&1
stamp "PEFT: methods on smollm2-135m"
PYTHONUNBUFFERED=1 python3 bench/peft_bench.py --models smollm2-135m --methods "$methods" --steps "$steps" --warmup 10 \
  --out "$out/peft-methods.jsonl" >>"$log" 2>&1
node bench/method-table.mjs "$out/train-methods.jsonl" "$out/peft-methods.jsonl" --model smollm2-135m | tee "$out/methods-table.md"

if [ "${BENCH_QWEN:-1}" = 1 ]; then
  stamp "LoRA on qwen2.5-0.5b (both sides)"
  node dist/train.js --models qwen2.5-0.5b --methods lora --steps "$steps" --out "$out/train-methods.jsonl" >>"$log" 2>&1
  PYTHONUNBUFFERED=1 python3 bench/peft_bench.py --models qwen2.5-0.5b --methods lora --steps "$steps" --warmup 10 \
    --out "$out/peft-methods.jsonl" >>"$log" 2>&1
fi
if [ "${BENCH_KERNELS:-1}" = 1 ]; then
  stamp "matmul kernels"
  node dist/matmul.js 2>>"$log" | tee "$out/matmul.jsonl" >/dev/null
fi
stamp "done"
grep -h '"error"\|Error' "$out"/*.jsonl "$log" | head -20
