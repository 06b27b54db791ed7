#!/usr/bin/env python3
"""Pretrain weblora-demo (~5.5M params) and weblora-demo-tiny (<1M) on the demo corpus (CUDA GPU host).

  python3 scripts/demo/pretrain.py tokenize            # here: demo-data/corpus-train.txt -> demo-data/tokens.bin
  python3 scripts/demo/pretrain.py train --out OUT     # on the GPU host (torch + transformers)

Llama architecture (RMSNorm, RoPE, SwiGLU, GQA), tied embeddings, context 256. bf16 autocast, AdamW, linear warmup
+ cosine decay. Each model trains for a wall-clock budget: the step count is fixed after timing 30 warm-up steps.
Saves OUT/{demo,tiny}/ (config.json, generation_config.json, bf16 model.safetensors) and OUT/eval.json: eval loss
on demo-data/heldout.jsonl with the engine's contract (each example = encode(text) with special tokens (bos
prepended), truncated to 256 tokens, loss = sum token CE / sum predicted tokens, float32 from the saved bf16 weights).
"""
import argparse, json, math, os, sys, time
import numpy as np

DATA = 'demo-data'
SEQ = 256
MODELS = {
    'demo': dict(hidden_size=256, num_hidden_layers=6, num_attention_heads=8, num_key_value_heads=4,
                 intermediate_size=704, lr=3e-3, batch=128),
    'tiny': dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                 intermediate_size=176, lr=5e-3, batch=128),
}
PROMPTS = ['The ', 'LOVE, n. ', 'Define the word money.\n', 'Happiness is', 'Ocean, n. ']


def tokenizer():
    from tokenizers import Tokenizer
    return Tokenizer.from_file(os.path.join(DATA, 'tokenizer', 'tokenizer.json'))


def cmd_tokenize():
    tok = tokenizer()
    docs = open(os.path.join(DATA, 'corpus-train.txt'), encoding='utf-8').read().split('\n<|endoftext|>\n')
    ids = []
    for enc in tok.encode_batch(docs):  # with special tokens: every document starts with <|endoftext|>
        ids.extend(enc.ids)
    arr = np.array(ids, dtype=np.uint16)
    arr.tofile(os.path.join(DATA, 'tokens.bin'))
    held = [json.loads(l)['text'] for l in open(os.path.join(DATA, 'heldout.jsonl'))]
    json.dump([e.ids[:SEQ] for e in tok.encode_batch(held)], open(os.path.join(DATA, 'heldout-ids.json'), 'w'))
    print(f'{len(docs)} docs, {len(arr)} tokens, {len(held)} held-out examples')


def make_model(name, torch):
    from transformers import LlamaConfig, LlamaForCausalLM
    m = dict(MODELS[name])
    for k in ('lr', 'batch'):
        m.pop(k)
    cfg = LlamaConfig(vocab_size=4096, max_position_embeddings=SEQ, tie_word_embeddings=True, rms_norm_eps=1e-5,
                      bos_token_id=0, eos_token_id=0, pad_token_id=0, hidden_act='silu', attention_bias=False,
                      mlp_bias=False, initializer_range=0.02, **m)
    torch.manual_seed(1234)
    return LlamaForCausalLM(cfg)


def eval_loss(model, held, torch):
    """Sum CE / sum predicted tokens over examples, float32 (TF32 off), one example at a time (no padding)."""
    tot, n = 0.0, 0
    with torch.no_grad():
        for ids in held:
            x = torch.tensor([ids], device='cuda')
            logits = model(x).logits[0, :-1].float()
            tot += torch.nn.functional.cross_entropy(logits, x[0, 1:], reduction='sum').item()
            n += len(ids) - 1
    return tot / n


def greedy(model, torch, tok):
    out = {}
    for p in PROMPTS:
        ids = torch.tensor([tok.encode(p).ids], device='cuda')
        g = model.generate(ids, max_new_tokens=48, do_sample=False, eos_token_id=0, pad_token_id=0)
        out[p] = tok.decode(g[0, ids.shape[1]:].tolist())
    return out


def train(name, budget_s, outdir, tokens, torch, log, held=None):
    spec = MODELS[name]
    model = make_model(name, torch).cuda()
    nparams = sum(p.numel() for p in model.parameters())
    log(f'{name}: {nparams} parameters')
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    nodecay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.1}, {'params': nodecay, 'weight_decay': 0.0}],
                            lr=spec['lr'], betas=(0.9, 0.95), fused=True)
    data = torch.from_numpy(tokens.astype(np.int64)).cuda()
    g = torch.Generator(device='cuda').manual_seed(42)
    B = spec['batch']

    def batch():
        starts = torch.randint(0, len(data) - SEQ - 1, (B,), device='cuda', generator=g)
        return data[starts[:, None] + torch.arange(SEQ, device='cuda')]

    def step_fn(lr):
        for pg in opt.param_groups:
            pg['lr'] = lr
        x = batch()
        with torch.autocast('cuda', dtype=torch.bfloat16):
            loss = model(x, labels=x).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step(); opt.zero_grad(set_to_none=True)
        return loss

    warm = 60
    t0 = time.time()
    for i in range(warm):
        loss = step_fn(spec['lr'] * (i + 1) / warm)
        if i == 19:  # time steps 20..59 only: the first ones pay for CUDA/kernel start-up
            torch.cuda.synchronize(); t1 = time.time()
    torch.cuda.synchronize()
    per = (time.time() - t1) / (warm - 20)
    budget_s -= time.time() - t0
    total = max(warm + 10, int(budget_s / per))
    log(f'{name}: {per*1000:.1f} ms/step -> {total} steps of {B}x{SEQ} tokens')
    for i in range(warm, total):
        lr = spec['lr'] * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (i - warm) / (total - warm))))
        loss = step_fn(lr)
        if i % 1000 == 0 or i == total - 1:
            log(f'{name} step {i} loss {loss.item():.4f} ({time.time()-t0:.0f}s)')
        if i % 3000 == 0 and held is not None:
            model.eval()
            with torch.autocast('cuda', dtype=torch.bfloat16):
                log(f'{name} step {i} held-out loss (bf16 autocast, 100 ex) {eval_loss(model, held[:100], torch):.4f}')
            model.train()
    model.to(torch.bfloat16)
    model.generation_config.do_sample = False
    model.generation_config.bos_token_id = 0; model.generation_config.eos_token_id = 0; model.generation_config.pad_token_id = 0
    model.save_pretrained(outdir, safe_serialization=True)
    return nparams, total, time.time() - t0


def cmd_train(a):
    import torch
    from transformers import LlamaForCausalLM
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    os.makedirs(a.out, exist_ok=True)
    logf = open(os.path.join(a.out, 'log.txt'), 'w')

    def log(s):
        print(s, flush=True); logf.write(s + '\n'); logf.flush()
    tokens = np.fromfile(os.path.join(DATA, 'tokens.bin'), dtype=np.uint16)
    held = json.load(open(os.path.join(DATA, 'heldout-ids.json')))
    tok = tokenizer()
    log(f'{len(tokens)} train tokens, {len(held)} held-out examples, {torch.cuda.get_device_name()}')
    result = {'contract': 'each heldout.jsonl example: encode(text, add_special_tokens=True) (bos <|endoftext|> '
              'prepended, no eos), truncated to 256 tokens; loss = sum CE / sum predicted tokens, float32 from '
              'the saved bf16 weights', 'heldout_examples': len(held),
              'heldout_predicted_tokens': sum(len(h) - 1 for h in held)}
    for name, budget in (('demo', a.demo_s), ('tiny', a.tiny_s)):
        d = os.path.join(a.out, name)
        nparams, steps, secs = train(name, budget, d, tokens, torch, log, held)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        m = LlamaForCausalLM.from_pretrained(d, dtype=torch.float32).cuda().eval()
        loss = eval_loss(m, held, torch)
        samples = greedy(m, torch, tok)
        torch.backends.cuda.matmul.allow_tf32 = True
        log(f'{name}: eval loss {loss:.6f}; samples {json.dumps(samples)}')
        result[name] = {'parameters': nparams, 'steps': steps, 'batch_tokens': MODELS[name]['batch'] * SEQ,
                        'train_seconds': round(secs, 1), 'eval_loss': loss, 'greedy_samples': samples,
                        'config': {k: v for k, v in MODELS[name].items()}}
        json.dump(result, open(os.path.join(a.out, 'eval.json'), 'w'), indent=2)


if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('cmd', choices=['tokenize', 'train'])
    ap.add_argument('--out', default='out-pretrain')
    ap.add_argument('--demo-s', type=float, default=330)
    ap.add_argument('--tiny-s', type=float, default=60)
    a = ap.parse_args()
    cmd_tokenize() if a.cmd == 'tokenize' else cmd_train(a)
