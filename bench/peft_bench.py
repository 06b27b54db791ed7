"""PyTorch + PEFT side of the training benchmark: the same shapes as bench/train.ts, in the same call.

LoRA r=16, alpha 32, on every linear layer of a randomly initialised model built from bench/models.json
(no download), batch 8 x 256 tokens, AdamW. Weights are stored in bf16 (as the engine keeps them) and the
compute runs in fp32 ("fp32": the model upcast, TF32 off, as the engine computes) and in bf16 autocast
("bf16-autocast", what a PyTorch user would typically run). Prints one JSON line per case.

    python3 bench/peft_bench.py [--steps 20] [--models smollm2-135m,qwen2.5-0.5b]
"""
import argparse, json, os, time
import torch
from transformers import AutoConfig, AutoModelForCausalLM
from peft import LoraConfig, get_peft_model

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def build(name, cfg, dtype):
    conf = AutoConfig.for_model(cfg["model_type"], **{k: v for k, v in cfg.items() if k != "model_type"})
    conf._attn_implementation = "sdpa"
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(conf, torch_dtype=torch.bfloat16)
    model = model.to(dtype)
    lcfg = LoraConfig(r=16, lora_alpha=32, target_modules=TARGETS, lora_dropout=0.0, task_type="CAUSAL_LM")
    model = get_peft_model(model, lcfg)
    for n, p in model.named_parameters():
        if "lora_" in n:
            p.data = p.data.float()
    return model


def run(name, cfg, mode, steps, batch, seq):
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dtype = torch.float32
    model = build(name, cfg, dtype)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    g = torch.Generator(device="cuda").manual_seed(0)
    ids = torch.randint(0, cfg["vocab_size"], (batch, seq), device="cuda", generator=g)
    torch.cuda.reset_peak_memory_stats()

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=(mode == "bf16-autocast")):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / steps
    out = {
        "impl": "pytorch+peft", "mode": mode, "model": name, "batch": batch, "seq": seq, "rank": 16,
        "ms_per_step": round(dt * 1000, 2), "tokens_per_s": round(batch * seq / dt, 1),
        "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 3),
        "trainable": sum(p.numel() for p in params), "loss": float(loss),
        "torch": torch.__version__,
    }
    print(json.dumps(out), flush=True)
    del model, opt
    torch.cuda.empty_cache()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--models", default="smollm2-135m,qwen2.5-0.5b")
    ap.add_argument("--modes", default="fp32,bf16-autocast")
    a = ap.parse_args()
    cfgs = json.load(open(os.path.join(os.path.dirname(__file__), "models.json")))
    for m in a.models.split(","):
        for mode in a.modes.split(","):
            run(m, cfgs[m], mode, a.steps, a.batch, a.seq)
