# Ground truth from the real libraries for the kernels' cross-check (bench/kernels-bench.ts --check):
# transformers' Llama rotary embedding (default and llama3 scaling), LlamaRMSNorm, NewGELUActivation,
# torch cross_entropy with ignore_index, and clip_grad_norm_ + torch.optim.AdamW. Writes JSON to argv[1].
import json, math, sys
import torch
import transformers
from transformers import LlamaConfig
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding, LlamaRMSNorm
from transformers.activations import NewGELUActivation

torch.manual_seed(0)
out = {"transformers": transformers.__version__, "torch": torch.__version__}
L = lambda t: t.detach().double().flatten().tolist()

def rope_module(head_dim, theta, scaling):
    kw = dict(hidden_size=head_dim * 4, num_attention_heads=4, head_dim=head_dim, max_position_embeddings=131072)
    try:  # transformers 5: rope_parameters
        params = {"rope_type": "default", "rope_theta": theta} if scaling is None else {"rope_theta": theta, **scaling}
        cfg = LlamaConfig(**kw, rope_parameters=params)
    except TypeError:
        cfg = LlamaConfig(**kw, rope_theta=theta, rope_scaling=scaling)
    return LlamaRotaryEmbedding(cfg)

positions = [0, 1, 7, 100, 1000, 4095, 8191]
out["rope"] = []
for head_dim, theta, scaling in [
    (128, 500000.0, {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}),
    (64, 500000.0, {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}),
    (64, 1000000.0, None),
    (128, 10000.0, None),
]:
    m = rope_module(head_dim, theta, scaling)
    x = torch.zeros(1, 1, head_dim)
    cos, sin = m(x, torch.tensor([positions]))
    out["rope"].append({"headDim": head_dim, "theta": theta, "scaling": scaling, "ropeType": getattr(m, "rope_type", "?"),
                        "invFreq": L(m.inv_freq), "positions": positions,
                        "cos": L(cos[0, :, : head_dim // 2]), "sin": L(sin[0, :, : head_dim // 2])})

rows, dim = 7, 4096
x = torch.randn(rows, dim) * 2
norm = LlamaRMSNorm(dim, eps=1e-5)
with torch.no_grad():
    norm.weight.copy_(torch.randn(dim))
out["rmsnorm"] = {"rows": rows, "dim": dim, "eps": 1e-5, "x": L(x), "w": L(norm.weight), "y": L(norm(x))}

g = torch.randn(4099) * 5
out["gelu"] = {"x": L(g), "y": L(NewGELUActivation()(g))}

rows, vocab = 6, 32003
logits = (torch.randn(rows, vocab) * 8).requires_grad_()
labels = torch.tensor([5, -100, vocab - 1, 0, 1234, -100])
n = int((labels >= 0).sum())
loss = torch.nn.functional.cross_entropy(logits, labels, ignore_index=-100, reduction="sum") / n
loss.backward()
out["ce"] = {"rows": rows, "vocab": vocab, "logits": L(logits), "labels": labels.tolist(), "scale": 1 / n,
             "loss": loss.item(), "dlogits": L(logits.grad)}

sizes = [37, 4100]
params = [torch.nn.Parameter(torch.randn(s)) for s in sizes]
init = [L(p) for p in params]
opt = torch.optim.AdamW(params, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
steps = []
for t in range(5):
    grads = [torch.randn(s) * (1.0 if t % 2 == 0 else 0.05) for s in sizes]
    for p, gr in zip(params, grads):
        p.grad = gr.clone()
    total = torch.nn.utils.clip_grad_norm_(params, max_norm=3.0)
    opt.step()
    steps.append({"grads": [L(gr) for gr in grads], "totalNorm": total.item()})
out["adamw"] = {"sizes": sizes, "lr": 1e-2, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weightDecay": 0.1, "maxGradNorm": 3.0,
                "init": init, "steps": steps, "final": [L(p) for p in params],
                "m": [L(opt.state[p]["exp_avg"]) for p in params], "v": [L(opt.state[p]["exp_avg_sq"]) for p in params]}

with open(sys.argv[1], "w") as f:
    json.dump(out, f)
print("hf check data:", {k: (v if isinstance(v, str) else "...") for k, v in out.items()})
