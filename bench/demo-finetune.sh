#!/bin/bash
# The README's first example, measured: 200 LoRA steps of the shipped demo model on demo-define, held-out loss
# and greedy definitions of held-out words before and after. Usage: bash bench/demo-finetune.sh OUTDIR
set -euo pipefail
out=${1:-out/demo-finetune}; mkdir -p "$out"
w() { node bin/weblora.mjs "$@"; }
w eval --model demo --data demo-define-eval --seq 128 --json | tee "$out/eval-before.json"
for word in $(node -e "require('fs').readFileSync('public/datasets/demo-define-eval.jsonl','utf8').trim().split('\n').slice(0,3).forEach(l=>console.log(JSON.parse(l).prompt.match(/word (.*)\./)[1]))"); do
  w generate --model demo --prompt "Define the word $word."$'\n' --max-new-tokens 30 --greedy --json | tee -a "$out/samples-before.jsonl"
done
start=$(date +%s%3N)
w train --model demo --data demo-define --method lora --steps 200 --batch 8 --seq 128 --lr 2e-3 --out "$out/adapter" 2> "$out/train.log"
echo "{\"train_ms\": $(( $(date +%s%3N) - start ))}" | tee "$out/time.json"
w eval --model demo --adapter "$out/adapter" --data demo-define-eval --seq 128 --json | tee "$out/eval-after.json"
for word in $(node -e "require('fs').readFileSync('public/datasets/demo-define-eval.jsonl','utf8').trim().split('\n').slice(0,3).forEach(l=>console.log(JSON.parse(l).prompt.match(/word (.*)\./)[1]))"); do
  w generate --model demo --adapter "$out/adapter" --prompt "Define the word $word."$'\n' --max-new-tokens 30 --greedy --json | tee -a "$out/samples-after.jsonl"
done
tail -3 "$out/train.log"
