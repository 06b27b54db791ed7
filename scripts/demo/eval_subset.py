"""Records the eval loss of both demo models on the first N held-out examples, as the CLI contract computes it
(encode with special tokens, truncate to SEQ, Σ CE / Σ predicted tokens, float32 from the saved bf16 weights),
into public/models/<model>/eval-subset.json: the test suite checks the engine against it (SwiftShader is too
slow for all 300 examples at 256 tokens). Runs on the CPU:  python3 scripts/demo/eval_subset.py"""
import json
import torch
from transformers import AutoModelForCausalLM
from tokenizers import Tokenizer

# (examples, seq) per model: small enough for the CPU fallback in CI
SUBSETS = {"weblora-demo": (4, 64), "weblora-demo-tiny": (24, 128)}
for name, (N, SEQ) in SUBSETS.items():
    d = f"public/models/{name}"
    tok = Tokenizer.from_file(f"{d}/tokenizer.json")
    model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
    rows = [json.loads(l) for l in open(f"{d}/eval-heldout.jsonl")][:N]
    total, count = 0.0, 0
    with torch.no_grad():
        for r in rows:
            ids = tok.encode(r["text"]).ids[:SEQ]
            if len(ids) < 2:
                continue
            logits = model(torch.tensor([ids])).logits[0, :-1].double()
            total += torch.nn.functional.cross_entropy(logits, torch.tensor(ids[1:]), reduction="sum").item()
            count += len(ids) - 1
    out = {"examples": N, "seq": SEQ, "file": "eval-heldout.jsonl (first N lines)", "loss": total / count, "tokens": count}
    json.dump(out, open(f"{d}/eval-subset.json", "w"), indent=2)
    print(name, out)
