"""PyTorch + PEFT side of the training benchmark: the same model shapes, batch and methods as bench/train.ts, in
the same call (bench/run-h100.sh).

Every method of bench/methods.json that PEFT has (lora, loraplus, vera, lorafa, adalora, dora) with the
hyper-parameters written there, on every linear layer (q, k, v, o, gate, up, down) of a randomly initialised model
built from bench/models.json (no download), batch 8 x 256 tokens. One optimizer step = forward, backward, global
grad-norm clipping (1.0), the method's optimizer, and what the method does after the step:
  lora, dora, vera   torch.optim.AdamW (DoRA: LoraConfig(use_dora=True); VeRA: VeraConfig, saved projections)
  loraplus           peft.optimizers.create_loraplus_optimizer(AdamW, loraplus_lr_ratio)
  lorafa             peft.optimizers.create_lorafa_optimizer (A frozen, B's gradient projected every step)
  adalora            AdaLoraConfig(init_r, target_r, total_step = warm-up + timed steps) + AdamW, and
                     model.base_model.update_and_allocate(step) after each optimizer.step() (before zero_grad)
Weights are stored in bf16 (as the engine keeps them) and the compute runs in fp32 ("fp32": the model upcast, TF32
off, as the engine computes) and in bf16 autocast ("bf16-autocast", what a PyTorch user would typically run).
In fp32 mode LoRA-FA's projection also runs in fp32 (PEFT would autocast it to bf16 where bf16 is available).

Prints one JSON line per (model, method, mode), appended to --out too:
  {side: "peft", model, method, mode, tokens_per_s, step_ms, trainable_params, peak_gpu_bytes, steps, ...}
peak_gpu_bytes is torch.cuda.max_memory_allocated() over the warm-up and timed steps (the model included).

    python3 bench/peft_bench.py [--models smollm2-135m] [--methods lora,dora] [--steps 20] [--modes fp32] [--out F]
    python3 bench/peft_bench.py --device cpu --models tiny-smoke --steps 2 --warmup 1 --modes fp32   # smoke test
"""
import argparse, gc, json, os, time
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = json.load(open(os.path.join(HERE, "methods.json")))
TARGETS = BENCH["targets"]
METHODS = BENCH["methods"]
_bf16_available = None  # PEFT's own check, kept while fp32 mode replaces it


def build_model(cfg, device, dtype):
    import transformers
    from transformers import AutoConfig, AutoModelForCausalLM

    conf = AutoConfig.for_model(cfg["model_type"], **{k: v for k, v in cfg.items() if k != "model_type"})
    conf._attn_implementation = "sdpa"
    torch.manual_seed(0)
    # transformers 5 renamed torch_dtype to dtype
    kw = {"dtype": torch.bfloat16} if int(transformers.__version__.split(".")[0]) >= 5 else {"torch_dtype": torch.bfloat16}
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(conf, **kw)
    return model.to(dtype)


def adapter_config(method, spec, total_steps):
    from peft import AdaLoraConfig, LoraConfig, VeraConfig

    o = spec["options"]
    common = dict(target_modules=TARGETS, task_type="CAUSAL_LM")
    if method in ("lora", "loraplus", "lorafa", "dora"):
        return LoraConfig(r=spec["r"], lora_alpha=spec["alpha"], lora_dropout=0.0, use_dora=method == "dora", **common)
    if method == "vera":
        return VeraConfig(r=spec["r"], d_initial=o["d-initial"], vera_dropout=0.0, save_projection=True,
                          projection_prng_key=0, **common)
    if method == "adalora":
        return AdaLoraConfig(init_r=o["init-r"], target_r=o["target-r"], tinit=o["tinit"], tfinal=o["tfinal"],
                             deltaT=o["delta-t"], total_step=total_steps, lora_alpha=spec["alpha"], lora_dropout=0.0,
                             orth_reg_weight=o.get("orth-reg-weight", 0.5), beta1=0.85, beta2=0.85, **common)
    raise SystemExit(f"PEFT has no {method}; it has {', '.join(m for m, s in METHODS.items() if s['peft'])}")


def make_optimizer(method, model, spec, mode, lr):
    adamw = dict(betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    if method == "loraplus":
        from peft.optimizers import create_loraplus_optimizer

        return create_loraplus_optimizer(model, torch.optim.AdamW, lr=lr,
                                         loraplus_lr_ratio=spec["options"]["loraplus-ratio"], **adamw)
    if method == "lorafa":
        import peft.optimizers.lorafa as lorafa_mod
        from peft.optimizers import create_lorafa_optimizer

        # fp32: the same arithmetic as the engine (PEFT autocasts the projection to bf16 where bf16 exists)
        global _bf16_available
        _bf16_available = _bf16_available or lorafa_mod.is_bf16_available
        lorafa_mod.is_bf16_available = (lambda: False) if mode == "fp32" else _bf16_available
        return create_lorafa_optimizer(model, r=spec["r"], lora_alpha=spec["alpha"], lr=lr, weight_decay=0.0)
    return torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, **adamw)


def run(model_name, cfg, method, mode, a):
    from peft import get_peft_model

    spec = METHODS[method]
    cuda = a.device.startswith("cuda")
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    total_steps = a.warmup + a.steps
    model = get_peft_model(build_model(cfg, a.device, torch.float32), adapter_config(method, spec, total_steps))
    for p in model.parameters():
        if p.requires_grad:
            p.data = p.data.float()
    model.train()
    opt = make_optimizer(method, model, spec, mode, a.lr)
    params = [p for p in model.parameters() if p.requires_grad]  # after LoRA-FA froze A
    g = torch.Generator(device=a.device).manual_seed(0)
    ids = torch.randint(0, cfg["vocab_size"], (a.batch, a.seq), device=a.device, generator=g)
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()

    def step(global_step):
        with torch.autocast(a.device.split(":")[0], dtype=torch.bfloat16, enabled=(mode == "bf16-autocast")):
            loss = model(input_ids=ids, labels=ids).loss  # AdaLoRA: the orthogonal regulariser is in here
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if method == "adalora":  # importance scores from the grads, then the rank budget's masking
            model.base_model.update_and_allocate(global_step)
        opt.zero_grad(set_to_none=True)
        return loss

    for i in range(a.warmup):
        step(i + 1)
    sync()
    t0 = time.perf_counter()
    for i in range(a.steps):
        loss = step(a.warmup + i + 1)
    sync()
    dt = (time.perf_counter() - t0) / a.steps
    import peft

    out = {
        "side": "peft", "model": model_name, "method": method, "mode": mode, "batch": a.batch, "seq": a.seq,
        "tokens_per_s": round(a.batch * a.seq / dt, 1), "step_ms": round(dt * 1000, 2),
        "trainable_params": sum(p.numel() for p in params),
        "peak_gpu_bytes": torch.cuda.max_memory_allocated() if cuda else None,
        "steps": a.steps, "warmup": a.warmup, "loss": round(float(loss.detach()), 4),
        "torch": torch.__version__, "peft": peft.__version__,
        "device": torch.cuda.get_device_name() if cuda else "cpu",
    }
    line = json.dumps(out)
    print(line, flush=True)
    if a.out:
        with open(a.out, "a") as f:
            f.write(line + "\n")
    del model, opt, params, loss, step
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20, help="timed optimizer steps")
    ap.add_argument("--warmup", type=int, default=10, help="untimed steps first (as bench/train.ts: AdaLoRA's total_step counts them)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--models", default="smollm2-135m")
    ap.add_argument("--methods", default=",".join(m for m, s in METHODS.items() if s["peft"]))
    ap.add_argument("--modes", default="fp32,bf16-autocast")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out", default="", help="also append the JSON lines to this file")
    a = ap.parse_args()
    cfgs = json.load(open(os.path.join(HERE, "models.json")))
    for name in a.models.split(","):
        for method in a.methods.split(","):
            if method not in METHODS:
                raise SystemExit(f"unknown method {method}; known: {', '.join(METHODS)}")
            if not METHODS[method]["peft"]:
                print(json.dumps({"side": "peft", "model": name, "method": method, "skipped": "not in PEFT"}), flush=True)  # stdout only
                continue
            for mode in a.modes.split(","):
                try:
                    run(name, cfgs[name], method, mode, a)
                except Exception as e:  # one method's failure must not lose the others' numbers
                    import traceback

                    traceback.print_exc()
                    line = json.dumps({"side": "peft", "model": name, "method": method, "mode": mode,
                                       "error": f"{type(e).__name__}: {e}"[:500]})
                    print(line, flush=True)
                    if a.out:
                        with open(a.out, "a") as f:
                            f.write(line + "\n")
                    gc.collect()
                    if a.device.startswith("cuda"):
                        torch.cuda.empty_cache()
