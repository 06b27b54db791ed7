"""Golden test fixtures for WebLoRA: tiny random Hugging Face models, PEFT adapters and float32 reference numbers.

Run once (CPU is enough; the device machine was used because it has torch/transformers/peft):

    PYTHONUNBUFFERED=1 python3 scripts/make_fixtures.py --out test/fixtures

Writes into --out (see test/fixtures/README.md for the full description):
    tokenizer/             tokenizer.json, tokenizer_config.json, expect.json (encodings of the data, chat template)
    data.jsonl, data_pc.jsonl
    llama/ llama3rope/ qwen2/ gpt2/
        model/             config.json, generation_config.json, model.safetensors, tokenizer files
        adapter/           PEFT LoRA adapter (random non-zero A and B)
        trained/           the adapter after 6 training steps
        logits.safetensors logits / logits_adapter of example 0, [T, V] F32
        grads.safetensors  gradients of the trainable parameters at step 1 (unclipped), PEFT key names
        expect.json        eval losses, greedy generations, training hyperparameters and per-step losses
    llama_<method>/        rslora, dora, vera, adalora, loraplus, lorafa on the llama base (../llama/model):
                           adapter/, trained/, grads.safetensors, expect.json

Everything is computed in float32 on the CPU with eager attention, from the model files as saved (16-bit files
are re-read and upcast, so the numbers are exactly what an engine unpacking the same files computes).
"""
import argparse
import copy
import json
import math
import os
import shutil
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is local; never wait on the network
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

SEQ = 24
BATCH = 2
STEPS = 6
WARMUP = 2
LR = 5e-3
BETAS = (0.9, 0.999)
EPS = 1e-8
WEIGHT_DECAY = 0.01
MAX_GRAD_NORM = 1.0
ADAPTER_STD = 0.1
GEN_PROMPT = 5
GEN_NEW = 8
EOT = "<|endoftext|>"
LLAMA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
GPT2_TARGETS = ["c_attn", "c_proj", "c_fc"]

CORPUS = """\
Low-rank adaptation trains two small matrices beside each frozen weight of a language model.
The product of the two matrices is a low-rank update, and only the small matrices receive gradients.
A model with a billion parameters can then be tuned on a single graphics card in an afternoon.
The rank is often four or eight, and the scale is alpha divided by the rank.
In the morning the weather was cold and grey, but by noon the sun came out over the hills.
The children walked to the river, where they watched the boats and counted the birds on the water.
She wrote a letter to her brother and told him about the garden, the apples and the old stone wall.
Every line of the program was read twice before it was run, because the machine time was scarce.
The quick brown fox jumps over the lazy dog, and the dog does not seem to mind at all.
Numbers such as 12, 345 and 6789 appear in the text too, with commas, colons: and question marks?
Training reads the data in batches, computes the loss, and takes one step of the optimizer for each batch.
The learning rate rises during the warmup and then falls in a straight line to zero at the last step.
"""

DATA = [  # encoded lengths (with BOS): 58, 10, 61, 20, 22, 46 -> truncated to 24, 10, 24, 20, 22, 24
    "The rank is often four or eight, and the scale is alpha divided by the rank of the update.",
    "Hello world.",
    "In the morning the children walked to the river and counted the boats, the birds and the clouds over the hills.",
    "Naïve café, 3 €.",
    "The loss falls.\nThen it stops.",
    "Every line of the program was read twice before it was run on the machine.",
]

DATA_PC = [
    {"prompt": "Question: what is the rank of the update?\nAnswer:", "completion": " four or eight"},
    {"prompt": "Translate to French: cat\n", "completion": "chat"},
    {"prompt": "The weather in the morning was", "completion": " cold and grey, but the sun came out."},
    {"prompt": "Count: 1, 2, 3,", "completion": " 4, 5"},
]

CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}" + EOT + "\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
CHAT_EXAMPLE = [
    {"role": "system", "content": "You are brief."},
    {"role": "user", "content": "What is the rank?"},
    {"role": "assistant", "content": "Four."},
]

# name -> (constructor kwargs for the config, class name, save dtype, rewrite config.json to the legacy rope keys?)
MODELS = {
    "llama": dict(
        arch="LlamaForCausalLM",
        dtype=torch.bfloat16,
        legacy_rope=False,
        config=dict(model_type="llama", hidden_size=40, num_attention_heads=4, num_key_value_heads=2,
                    intermediate_size=72, num_hidden_layers=2, tie_word_embeddings=False, rope_theta=10000.0,
                    rms_norm_eps=1e-5, max_position_embeddings=64),
    ),
    "llama3rope": dict(
        arch="LlamaForCausalLM",
        dtype=torch.float32,
        legacy_rope=True,
        config=dict(model_type="llama", hidden_size=40, num_attention_heads=4, num_key_value_heads=2,
                    intermediate_size=72, num_hidden_layers=2, tie_word_embeddings=True, rope_theta=10000.0,
                    rms_norm_eps=1e-5, max_position_embeddings=64,
                    rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                  "high_freq_factor": 4.0, "original_max_position_embeddings": 48}),
    ),
    "qwen2": dict(
        arch="Qwen2ForCausalLM",
        dtype=torch.float16,
        legacy_rope=True,
        config=dict(model_type="qwen2", hidden_size=48, num_attention_heads=6, num_key_value_heads=2,
                    intermediate_size=80, num_hidden_layers=2, tie_word_embeddings=True, rope_theta=10000.0,
                    rms_norm_eps=1e-6, max_position_embeddings=64, max_window_layers=2, use_sliding_window=False),
    ),
    "gpt2": dict(
        arch="GPT2LMHeadModel",
        dtype=torch.float32,
        legacy_rope=False,
        config=dict(model_type="gpt2", n_embd=48, n_head=4, n_layer=2, n_positions=64, n_inner=None,
                    activation_function="gelu_new", layer_norm_epsilon=1e-5, resid_pdrop=0.0, embd_pdrop=0.0,
                    attn_pdrop=0.0, tie_word_embeddings=True),
    ),
}


T0 = time.time()


def log(*a):
    print(f"[fixtures {time.time() - T0:6.1f}s]", *a, flush=True)


def gen(seed):
    return torch.Generator().manual_seed(seed)


def dump_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


# ----------------------------------------------------------------------------------------------------------------
# tokenizer


def build_tokenizer(out):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=301, min_frequency=2, special_tokens=[EOT],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS.splitlines(), trainer=trainer)
    eot = tok.token_to_id(EOT)
    # BOS added in front of every sequence (Llama style); nothing appended.
    tok.post_processor = processors.TemplateProcessing(single=f"{EOT} $A", pair=f"{EOT} $A {EOT} $B",
                                                       special_tokens=[(EOT, eot)])
    d = os.path.join(out, "tokenizer")
    os.makedirs(d, exist_ok=True)
    tok.save(os.path.join(d, "tokenizer.json"))
    dump_json(os.path.join(d, "tokenizer_config.json"), {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": EOT,
        "eos_token": EOT,
        "pad_token": None,
        "unk_token": None,
        "model_max_length": 64,
        "clean_up_tokenization_spaces": False,
        "chat_template": CHAT_TEMPLATE,
    })
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))  # what the engine reads
    log("tokenizer: vocab", tok.get_vocab_size(), "eot id", eot)
    return tok, eot


def tokenizer_expect(out, tok):
    from jinja2 import Template
    from transformers import AutoTokenizer

    d = os.path.join(out, "tokenizer")
    hf = AutoTokenizer.from_pretrained(d)
    rendered = hf.apply_chat_template(CHAT_EXAMPLE, tokenize=False, add_generation_prompt=True)
    rendered_nogen = hf.apply_chat_template(CHAT_EXAMPLE, tokenize=False, add_generation_prompt=False)
    assert rendered == Template(CHAT_TEMPLATE).render(messages=CHAT_EXAMPLE, add_generation_prompt=True)
    texts = []
    for t in DATA:
        ids = tok.encode(t).ids
        assert hf(t)["input_ids"] == ids, "transformers and tokenizers disagree on " + repr(t)
        assert tok.decode(ids, skip_special_tokens=True) == t
        texts.append({"text": t, "ids": ids, "ids_no_special": tok.encode(t, add_special_tokens=False).ids})
    pcs = []
    for ex in DATA_PC:
        pcs.append({**ex,
                    "prompt_ids": tok.encode(ex["prompt"]).ids,
                    "completion_ids_no_special": tok.encode(ex["completion"], add_special_tokens=False).ids,
                    "joined_ids": tok.encode(ex["prompt"] + ex["completion"]).ids})
    expect = {
        "vocab_size": tok.get_vocab_size(),
        "bos_id": tok.token_to_id(EOT), "eos_id": tok.token_to_id(EOT),
        "note": "ids = encode(text) with special tokens (the post-processor prepends <|endoftext|>); "
                "ids_no_special = encode(text, add_special_tokens=False)",
        "data": texts,
        "data_pc": pcs,
        "decode": {"ids": texts[3]["ids"], "text_skip_special": DATA[3],
                   "text_with_special": tok.decode(texts[3]["ids"], skip_special_tokens=False)},
        "chat": {"messages": CHAT_EXAMPLE, "rendered_add_generation_prompt": rendered,
                 "rendered": rendered_nogen,
                 "ids_no_special": tok.encode(rendered, add_special_tokens=False).ids,
                 "ids_with_special": tok.encode(rendered).ids},
    }
    dump_json(os.path.join(d, "expect.json"), expect)


# ----------------------------------------------------------------------------------------------------------------
# models


def randomize(model, seed):
    """Random values everywhere, norms around 1 and biases non-zero, so every parameter matters in the tests."""
    from transformers.pytorch_utils import Conv1D

    g = gen(seed)
    conv1d = {n + ".weight" for n, m in model.named_modules() if isinstance(m, Conv1D)}
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g)
            if p.ndim == 1 and name.endswith("bias"):
                p.copy_(0.1 * r)
            elif p.ndim == 1:  # RMSNorm / LayerNorm weight
                p.copy_(1.0 + 0.2 * r)
            elif "embed_tokens" in name or name.endswith("wte.weight"):
                p.copy_(0.2 * r)  # tied models use it as the LM head too: logits std ~ 0.2*sqrt(hidden)
            elif name.endswith("wpe.weight"):
                p.copy_(0.1 * r)
            else:
                fan_in = p.shape[0] if name in conv1d else p.shape[1]
                p.copy_(r / math.sqrt(fan_in))


def make_config(spec, vocab, eot):
    from transformers import AutoConfig

    kw = copy.deepcopy(spec["config"])  # transformers edits the rope dicts it is given
    mt = kw.pop("model_type")
    return AutoConfig.for_model(mt, vocab_size=vocab, bos_token_id=eot, eos_token_id=eot, **kw)


def rewrite_legacy_rope(config_path, spec):
    """transformers 5 writes rope_parameters; checkpoints on the Hub carry rope_theta (+ rope_scaling). Write those."""
    with open(config_path) as f:
        cfg = json.load(f)
    cfg.pop("rope_parameters", None)
    cfg["rope_theta"] = spec["config"]["rope_theta"]
    if "rope_scaling" in spec["config"]:
        cfg["rope_scaling"] = copy.deepcopy(spec["config"]["rope_scaling"])
    dump_json(config_path, cfg)


def load_f32(model_dir):
    from transformers import AutoModelForCausalLM

    m = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
    m.eval()
    return m


def build_model(out, name, spec, vocab, eot, seed):
    from transformers import AutoModelForCausalLM

    d = os.path.join(out, name, "model")
    os.makedirs(d, exist_ok=True)
    config = make_config(spec, vocab, eot)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32, attn_implementation="eager")
    assert type(model).__name__ == spec["arch"], type(model).__name__
    randomize(model, seed)
    model.to(spec["dtype"]).save_pretrained(d)
    if spec["legacy_rope"]:
        rewrite_legacy_rope(os.path.join(d, "config.json"), spec)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(out, "tokenizer", f), os.path.join(d, f))
    m = load_f32(d)
    if spec["config"].get("rope_scaling"):  # the legacy keys were understood
        rp = m.config.rope_parameters
        assert rp["rope_type"] == "llama3" and rp["original_max_position_embeddings"] == 48, rp
    # check: the re-read model holds exactly the 16-bit values of the original
    ref = model.to(spec["dtype"]).float().state_dict()
    for k, v in m.state_dict().items():
        if k in ref:
            assert torch.equal(ref[k], v), k
    return m


# ----------------------------------------------------------------------------------------------------------------
# evaluation, generation, training


def encode_examples(tok):
    ex = [tok.encode(t).ids[:SEQ] for t in DATA]
    log("example lengths after truncation", [len(e) for e in ex])
    return ex


def reload_eval(base_dir, adapter_dir, examples, want=None, what=""):
    """Evaluate base + adapter read back from the files with PeftModel.from_pretrained."""
    from peft import PeftModel

    m = PeftModel.from_pretrained(load_f32(base_dir), adapter_dir)
    m.eval()
    r = evaluate(m, examples)
    if want is not None:
        diff = abs(r["loss"] - want["loss"])
        log(f"  reloaded {what}: loss {r['loss']:.6f} (in memory {want['loss']:.6f}, diff {diff:.2e})")
    return r


@torch.no_grad()
def evaluate(model, examples):
    total, count, per = 0.0, 0, []
    for ids in examples:
        x = torch.tensor([ids])
        logits = model(input_ids=x).logits[0].float()
        ce = F.cross_entropy(logits[:-1], x[0, 1:], reduction="sum").item()
        per.append({"sum": ce, "tokens": len(ids) - 1})
        total += ce
        count += len(ids) - 1
    return {"loss": total / count, "tokens": count, "per_example": per}


@torch.no_grad()
def logits_of(model, ids):
    return model(input_ids=torch.tensor([ids])).logits[0].float().contiguous()


@torch.no_grad()
def greedy(model, prompt):
    """Greedy decoding by full recomputation, no EOS stop. margins = top1 - top2 logit at each step."""
    ids, new, margins = list(prompt), [], []
    for _ in range(GEN_NEW):
        last = model(input_ids=torch.tensor([ids])).logits[0, -1].float()
        top = torch.topk(last, 2)
        nxt = int(top.indices[0])
        margins.append(float(top.values[0] - top.values[1]))
        new.append(nxt)
        ids.append(nxt)
    return new, margins


def make_batch(examples, k, pad):
    n = len(examples)
    idx = [(k * BATCH + j) % n for j in range(BATCH)]
    ids = torch.full((BATCH, SEQ), pad, dtype=torch.long)
    labels = torch.full((BATCH, SEQ), -100, dtype=torch.long)
    for j, i in enumerate(idx):
        e = examples[i]
        ids[j, :len(e)] = torch.tensor(e)
        labels[j, :len(e)] = torch.tensor(e)
    return idx, ids, labels


def peft_key(name):
    """named_parameters name -> key in adapter_model.safetensors."""
    k = name.replace(".default", "")
    if k.endswith("lora_magnitude_vector.weight"):
        k = k[: -len(".weight")]
    return k


def train(model, examples, pad, make_optimizer, after_step=None):
    """Manual loop: forward with labels (HF shifts inside), backward, clip, optimizer, schedule."""
    from transformers import get_linear_schedule_with_warmup

    opt = make_optimizer(model)
    sched = get_linear_schedule_with_warmup(opt, WARMUP, STEPS)
    params = [p for p in model.parameters() if p.requires_grad]
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    model.train()
    steps, grads = [], None
    for k in range(STEPS):
        idx, ids, labels = make_batch(examples, k, pad)
        out = model(input_ids=ids, labels=labels)
        loss = out.loss
        with torch.no_grad():  # plain CE (AdaLoRA's loss also holds its orthogonality term)
            ce = F.cross_entropy(out.logits[:, :-1].float().reshape(-1, out.logits.shape[-1]),
                                 labels[:, 1:].reshape(-1), ignore_index=-100).item()
        loss.backward()
        if k == 0:
            grads = {peft_key(n): p.grad.detach().clone().contiguous() for n, p in zip(names, params)}
        norm = torch.nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM).item()
        lrs = [g["lr"] for g in opt.param_groups]
        opt.step()
        rec = {"step": k + 1, "examples": idx, "label_tokens": int((labels[:, 1:] != -100).sum()),
               "loss": loss.item(), "ce": ce, "grad_norm": norm, "lr": lrs[0], "lrs": lrs}
        if after_step is not None:
            extra = after_step(model, k + 1)
            if extra:
                rec.update(extra)
        sched.step()
        opt.zero_grad(set_to_none=True)
        steps.append(rec)
        log(f"  step {k + 1}: loss {rec['loss']:.6f} lr {lrs[0]:.6g} |g| {norm:.5f}")
    model.eval()
    return steps, grads


def adamw(model):
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW(params, lr=LR, betas=BETAS, eps=EPS, weight_decay=WEIGHT_DECAY)


ADAMW_SPEC = {"type": "torch.optim.AdamW", "lr": LR, "betas": list(BETAS), "eps": EPS, "weight_decay": WEIGHT_DECAY,
              "note": "PyTorch AdamW: p -= lr*wd*p; m,v update; p -= lr*(m/bc1)/(sqrt(v/bc2)+eps)"}


def train_spec(optimizer_spec):
    return {
        "batch": BATCH, "seq": SEQ, "steps": STEPS,
        "order": "no shuffle: batch k (0-based) holds examples (k*batch + j) mod n of data.jsonl",
        "padding": "right, pad id = eos id, labels -100 on padding; loss = mean CE over the batch's label tokens "
                   "(position t predicts ids[t+1]); no attention mask (causal only)",
        "optimizer": optimizer_spec,
        "schedule": {"type": "transformers.get_linear_schedule_with_warmup", "warmup": WARMUP, "total": STEPS,
                     "note": "lr(step k, 1-based) = lr * (k-1)/warmup if k-1 < warmup else (total-(k-1))/(total-warmup)"},
        "max_grad_norm": MAX_GRAD_NORM,
        "clip": "torch.nn.utils.clip_grad_norm_ over all trainable params: g *= min(1, max/(norm+1e-6))",
        "grads_file": "grads.safetensors: gradients at step 1 before clipping and before the optimizer step",
    }


def randomize_adapter(model, seed):
    """Overwrite the trainable adapter tensors with seeded random values so that none is zero."""
    g = gen(seed)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if not p.requires_grad:
                continue
            r = torch.randn(p.shape, generator=g)
            if "lora_A" in n or "lora_B" in n or "lora_E" in n or "vera_lambda_b" in n:
                p.copy_(ADAPTER_STD * r)
            elif "vera_lambda_d" in n:
                p.copy_(0.1 + 0.05 * r)
            # DoRA magnitudes keep their init (row norms of W0)


def save_adapter(model, d):
    model.save_pretrained(d)
    rm = os.path.join(d, "README.md")
    if os.path.exists(rm):
        os.remove(rm)
    cfg_path = os.path.join(d, "adapter_config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    cfg["base_model_name_or_path"] = "../model"
    if isinstance(cfg.get("target_modules"), list):
        cfg["target_modules"] = sorted(cfg["target_modules"])  # a set in PEFT: order would vary run to run
    with open(cfg_path, "w") as f:
        f.write(json.dumps(cfg, indent=2, sort_keys=True))
    from safetensors import safe_open
    with safe_open(os.path.join(d, "adapter_model.safetensors"), "pt") as f:
        return sorted(f.keys())


def lora_config(name, **extra):
    from peft import LoraConfig

    if name == "gpt2":
        return LoraConfig(r=4, lora_alpha=8, target_modules=GPT2_TARGETS, fan_in_fan_out=True, lora_dropout=0.0,
                          task_type="CAUSAL_LM", **extra)
    return LoraConfig(r=4, lora_alpha=8, target_modules=LLAMA_TARGETS, lora_dropout=0.0, task_type="CAUSAL_LM",
                      **extra)


def check_grad_keys(grads, keys):
    missing = set(grads) - set(keys)
    assert not missing, f"grad keys not in the adapter file: {sorted(missing)[:4]}"


def do_model(out, name, spec, tok, eot, seed):
    from peft import get_peft_model

    log("model", name)
    d = os.path.join(out, name)
    base = build_model(out, name, spec, tok.get_vocab_size(), eot, seed)
    examples = encode_examples(tok)
    prompt = examples[0][:GEN_PROMPT]
    eval_base = evaluate(base, examples)
    logits_base = logits_of(base, examples[0])
    gen_base, margins_base = greedy(base, prompt)
    log(f"  base eval loss {eval_base['loss']:.6f} over {eval_base['tokens']} tokens; greedy {gen_base}")

    model = get_peft_model(base, lora_config(name))
    randomize_adapter(model, seed + 1)
    adapter_keys = save_adapter(model, os.path.join(d, "adapter"))
    eval_adapter = evaluate(model, examples)
    logits_adapter = logits_of(model, examples[0])
    gen_adapter, margins_adapter = greedy(model, prompt)
    log(f"  adapter eval loss {eval_adapter['loss']:.6f}")
    save_file({"logits": logits_base, "logits_adapter": logits_adapter}, os.path.join(d, "logits.safetensors"),
              metadata={"format": "pt"})

    steps, grads = train(model, examples, eot, adamw)
    check_grad_keys(grads, adapter_keys)
    save_file(grads, os.path.join(d, "grads.safetensors"), metadata={"format": "pt"})
    save_adapter(model, os.path.join(d, "trained"))
    eval_trained = evaluate(model, examples)
    model_dir = os.path.join(d, "model")
    reloaded = {"adapter": reload_eval(model_dir, os.path.join(d, "adapter"), examples, eval_adapter, "adapter")["loss"],
                "trained": reload_eval(model_dir, os.path.join(d, "trained"), examples, eval_trained, "trained")["loss"]}

    dump_json(os.path.join(d, "expect.json"), {
        "name": name, "architecture": spec["arch"], "saved_dtype": str(spec["dtype"]).replace("torch.", ""),
        "model_dir": "model", "data": "../data.jsonl", "seq": SEQ,
        "examples": examples,
        "eval": {"note": "each example encoded with special tokens, truncated to seq; loss = sum of next-token CE "
                         "over all examples / tokens (predicted positions)",
                 "base": eval_base, "adapter": eval_adapter, "trained": eval_trained,
                 "reloaded_loss": reloaded},
        "logits": {"file": "logits.safetensors", "keys": ["logits", "logits_adapter"], "example": 0,
                   "shape": list(logits_base.shape)},
        "generate": {"prompt_ids": prompt, "max_new_tokens": GEN_NEW, "greedy": True, "eos": "ignored",
                     "base": gen_base, "base_margins": margins_base,
                     "adapter": gen_adapter, "adapter_margins": margins_adapter},
        "adapter": {"dir": "adapter", "trained_dir": "trained", "method": "lora", "r": 4, "lora_alpha": 8,
                    "scaling": 2.0, "target_modules": GPT2_TARGETS if name == "gpt2" else LLAMA_TARGETS,
                    "fan_in_fan_out": name == "gpt2", "init": f"lora_A, lora_B ~ {ADAPTER_STD} * N(0,1), seeded",
                    "keys": adapter_keys},
        "train": {**train_spec(ADAMW_SPEC), "log": steps},
    })
    return base  # the PEFT-wrapped base has LoRA layers; reload for methods


# ----------------------------------------------------------------------------------------------------------------
# the LoRA family on the llama base


def do_methods(out, tok, eot, seed):
    import peft.optimizers.lorafa as lorafa_mod
    from peft import AdaLoraConfig, VeraConfig, get_peft_model
    from peft.optimizers import create_lorafa_optimizer, create_loraplus_optimizer

    examples = encode_examples(tok)
    base_dir = os.path.join(out, "llama", "model")

    def loraplus_opt(model):
        return create_loraplus_optimizer(model, torch.optim.AdamW, lr=LR, loraplus_lr_ratio=16.0, betas=BETAS, eps=EPS,
                                         loraplus_weight_decay=WEIGHT_DECAY)

    def lorafa_opt(model):
        # PEFT computes the projected gradient under bf16 autocast when bf16 is available; keep it float32 here.
        lorafa_mod.is_bf16_available = lambda: False
        return create_lorafa_optimizer(model, r=4, lora_alpha=8, lr=LR, weight_decay=WEIGHT_DECAY)

    def adalora_after(model, step):
        model.base_model.update_and_allocate(step)
        rp = model.peft_config["default"].rank_pattern
        budget, mask = model.base_model.rankallocator.budget_schedule(step)
        return {"adalora_budget": budget, "adalora_mask": bool(mask),
                "rank_pattern": {k: list(map(bool, v)) for k, v in rp.items()} if rp else None}

    methods = {
        "rslora": (lambda: lora_config("llama", use_rslora=True), adamw, ADAMW_SPEC, None,
                   {"scaling": 8 / math.sqrt(4)}),
        "dora": (lambda: lora_config("llama", use_dora=True), adamw, ADAMW_SPEC, None,
                 {"note": "lora_magnitude_vector keeps its init (row norms of W0); A and B random"}),
        "vera": (lambda: VeraConfig(r=8, target_modules=LLAMA_TARGETS, d_initial=0.1, save_projection=True,
                                    projection_prng_key=0, vera_dropout=0.0, task_type="CAUSAL_LM"),
                 adamw, ADAMW_SPEC, None,
                 {"note": "vera_lambda_b ~ 0.1*N(0,1), vera_lambda_d ~ 0.1 + 0.05*N(0,1) (seeded, overwriting "
                          "PEFT's 0 / d_initial); vera_A/vera_B from projection_prng_key, saved"}),
        "adalora": (lambda: AdaLoraConfig(init_r=6, target_r=4, tinit=1, tfinal=1, deltaT=1, total_step=STEPS,
                                          orth_reg_weight=0.5, lora_alpha=8, beta1=0.85, beta2=0.85,
                                          target_modules=LLAMA_TARGETS, lora_dropout=0.0, task_type="CAUSAL_LM"),
                    adamw, ADAMW_SPEC, adalora_after,
                    {"note": "lora_A, lora_B, lora_E ~ 0.1*N(0,1) seeded (PEFT: E=0, A,B~N(0,0.02)); "
                             "after each optimizer.step() (before zero_grad) update_and_allocate(step), step 1-based; "
                             "loss includes orth_reg_weight * mean unsquared Frobenius norms; ce is the plain CE"}),
        "loraplus": (lambda: lora_config("llama"), loraplus_opt,
                     {"type": "peft.optimizers.create_loraplus_optimizer(optimizer_cls=torch.optim.AdamW)",
                      "lr": LR, "loraplus_lr_ratio": 16.0, "betas": list(BETAS), "eps": EPS,
                      "loraplus_weight_decay": WEIGHT_DECAY,
                      "groups": "[A: lr, wd] [embedding: 1e-6, empty] [B + 1-D: lr*16, wd] [B no-decay: lr*16, wd 0]"},
                     None, {}),
        "lorafa": (lambda: lora_config("llama"), lorafa_opt,
                   {"type": "peft.optimizers.create_lorafa_optimizer", "lr": LR, "betas": [0.9, 0.999], "eps": 1e-6,
                    "weight_decay": WEIGHT_DECAY, "correct_bias": True,
                    "note": "lora_A frozen. g = clipped grad of B; g~ = (1/s^2) g (A A^T + 1e-8 I)^-1 (pinv, float32); "
                            "m = b1 m + (1-b1) g~; v = b2 v + (1-b2) g~^2; "
                            "B -= lr*sqrt(1-b2^t)/(1-b1^t) * m/(sqrt(v)+eps); THEN B -= lr*wd*B (HF AdamW order)"},
                   None, {}),
    }
    for i, (method, (make_cfg, make_opt, opt_spec, after, info)) in enumerate(methods.items()):
        log("method", method)
        d = os.path.join(out, "llama_" + method)
        base = load_f32(base_dir)
        model = get_peft_model(base, make_cfg())
        peft_cfg = json.loads(json.dumps(model.peft_config["default"].to_dict(),
                                         default=lambda o: sorted(o) if isinstance(o, set) else str(o)))
        peft_cfg["base_model_name_or_path"] = "../llama/model"
        randomize_adapter(model, seed + 100 + i)
        adapter_keys = save_adapter(model, os.path.join(d, "adapter"))
        eval_adapter = evaluate(model, examples)
        log(f"  adapter eval loss {eval_adapter['loss']:.6f}")
        steps, grads = train(model, examples, eot, make_opt, after)
        check_grad_keys(grads, adapter_keys)
        save_file(grads, os.path.join(d, "grads.safetensors"), metadata={"format": "pt"})
        trained_keys = save_adapter(model, os.path.join(d, "trained"))
        eval_trained = evaluate(model, examples)
        reloaded = {"adapter": reload_eval(base_dir, os.path.join(d, "adapter"), examples, eval_adapter,
                                           "adapter")["loss"],
                    "trained": reload_eval(base_dir, os.path.join(d, "trained"), examples, eval_trained,
                                           "trained")["loss"]}
        dump_json(os.path.join(d, "expect.json"), {
            "name": "llama_" + method, "method": method, "model_dir": "../llama/model", "data": "../data.jsonl",
            "seq": SEQ, "examples": examples,
            "eval": {"adapter": eval_adapter, "trained": eval_trained, "reloaded_loss": reloaded,
                     "note": "reloaded_loss: the adapter files read back with PeftModel.from_pretrained"},
            "adapter": {"dir": "adapter", "trained_dir": "trained", "peft_config": peft_cfg,
                        "keys": adapter_keys, "trained_keys": trained_keys, **info},
            "train": {**train_spec(opt_spec), "log": steps},
        })


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--skip-methods", action="store_true")
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_num_threads(min(8, os.cpu_count() or 1))
    import peft
    import transformers
    log("torch", torch.__version__, "transformers", transformers.__version__, "peft", peft.__version__)
    os.makedirs(args.out, exist_ok=True)
    tok, eot = build_tokenizer(args.out)
    with open(os.path.join(args.out, "data.jsonl"), "w") as f:
        for t in DATA:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
    with open(os.path.join(args.out, "data_pc.jsonl"), "w") as f:
        for ex in DATA_PC:
            f.write(json.dumps(ex, ensure_ascii=False) + "\n")
    tokenizer_expect(args.out, tok)
    for i, (name, spec) in enumerate(MODELS.items()):
        do_model(args.out, name, spec, tok, eot, args.seed + 10 * i)
    if not args.skip_methods:
        do_methods(args.out, tok, eot, args.seed)
    dump_json(os.path.join(args.out, "versions.json"), {"torch": torch.__version__,
                                                        "transformers": transformers.__version__,
                                                        "peft": peft.__version__, "seed": args.seed})
    log("done")


if __name__ == "__main__":
    main()
