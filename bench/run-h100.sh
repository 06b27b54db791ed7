#!/bin/bash
# Every benchmark side by side in one call on the GPU host (see bench/README.md). Here, first:
#   node scripts/build-cli.mjs bench/train.ts bench/matmul.ts   (dist/train.js, dist/matmul.js)   and   bash ../shared/gpu/pack.sh   (.gpu/)
# then on the host, from the repo root, with .gpu/, dist/train.js and dist/matmul.js carried along:
#   source .gpu/setup.sh && bash bench/run-h100.sh $OUT
# Writes into OUT (each JSON line appended as soon as it is measured, so a run cut short keeps what it did):
#   gpu.txt                 the GPU, driver, memory
#   train-methods.jsonl     WebLoRA, every method of bench/methods.json on the SmolLM2-135M shape (+ LoRA on Qwen2.5-0.5B)
#   peft-methods.jsonl      PyTorch + PEFT, the methods PEFT has, fp32 and bf16 autocast, the same shapes
#   methods-table.md        the README table (bench/method-table.mjs)
#   matmul.jsonl            the matmul kernels (last: the longest to lose if the call runs out of time)
#   log.txt                 everything the programs printed besides their JSON lines
# Settings: BENCH_METHODS (all), BENCH_MODEL (smollm2-135m), BENCH_STEPS (20 timed), BENCH_WARMUP (10),
# BENCH_READ_EVERY (10), BENCH_SHAPE ("--batch 8 --seq 256"), BENCH_QWEN (1: also LoRA on the Qwen2.5-0.5B shape),
# BENCH_KERNELS (1). A dry run of the script without a GPU (SwiftShader; the PEFT side needs torch + peft):
#   BENCH_MODEL=tiny-smoke BENCH_STEPS=1 BENCH_WARMUP=1 BENCH_READ_EVERY=1 BENCH_SHAPE="--batch 2 --seq 16" \
#   BENCH_METHODS=lora,vera BENCH_QWEN=0 BENCH_KERNELS=0 bash bench/run-h100.sh /tmp/bench-dry
set -uo pipefail
out=${1:-bench-out}
methods=${BENCH_METHODS:-lora,loraplus,vera,lorafa,loradrop,adalora,dora,deltalora}
model=${BENCH_MODEL:-smollm2-135m}
shape=${BENCH_SHAPE:---batch 8 --seq 256}
wl="--steps ${BENCH_STEPS:-20} --warmup ${BENCH_WARMUP:-10} --read-every ${BENCH_READ_EVERY:-10} $shape"
pt="--steps ${BENCH_STEPS:-20} --warmup ${BENCH_WARMUP:-10} $shape"
for f in dist/train.js dist/matmul.js; do
  [ -f "$f" ] || { echo "missing $f: node scripts/build-cli.mjs bench/train.ts bench/matmul.ts (here), and carry it" >&2; exit 1; }
done
mkdir -p "$out"
log="$out/log.txt"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee "$out/gpu.txt"
t0=$SECONDS
stamp() { echo "== $1 ($((SECONDS - t0)) s)" | tee -a "$log"; }

stamp "WebLoRA: methods on $model"
node dist/train.js --models "$model" --methods "$methods" $wl --out "$out/train-methods.jsonl" >>"$log" 2>&1
stamp "PEFT: methods on $model"
PYTHONUNBUFFERED=1 python3 bench/peft_bench.py --models "$model" --methods "$methods" $pt --out "$out/peft-methods.jsonl" >>"$log" 2>&1
touch "$out/train-methods.jsonl" "$out/peft-methods.jsonl"
node bench/method-table.mjs "$out/train-methods.jsonl" "$out/peft-methods.jsonl" --model "$model" | tee "$out/methods-table.md"

if [ "${BENCH_QWEN:-1}" = 1 ]; then
  stamp "LoRA on qwen2.5-0.5b (both sides)"
  node dist/train.js --models qwen2.5-0.5b --methods lora $wl --out "$out/train-methods.jsonl" >>"$log" 2>&1
  PYTHONUNBUFFERED=1 python3 bench/peft_bench.py --models qwen2.5-0.5b --methods lora $pt --out "$out/peft-methods.jsonl" >>"$log" 2>&1
fi
if [ "${BENCH_KERNELS:-1}" = 1 ]; then
  stamp "matmul kernels"
  node dist/matmul.js 2>>"$log" | tee "$out/matmul.jsonl" >/dev/null
fi
stamp "done"
grep -h '"error"\|Error' "$out"/*.jsonl "$log" | head -20
