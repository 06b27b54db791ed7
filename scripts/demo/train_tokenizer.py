#!/usr/bin/env python3
"""Byte-level BPE tokenizer (vocab 4096, "<|endoftext|>" = bos = eos = pad) for the WebLoRA demo models.

  python3 scripts/demo/train_tokenizer.py [--corpus demo-data/corpus-train.txt] [--out demo-data/tokenizer]

encode(text, add_special_tokens=True) prepends <|endoftext|> (TemplateProcessing), as the engine's eval expects.
"""
import argparse, json, os
from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers, processors

EOT = '<|endoftext|>'
CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ m['content'] }}\n\n"
    "{% elif m['role'] == 'user' %}User: {{ m['content'] }}\n"
    "{% else %}Assistant: {{ m['content'] }}<|endoftext|>\n{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--corpus', default='demo-data/corpus-train.txt')
    ap.add_argument('--out', default='demo-data/tokenizer')
    ap.add_argument('--vocab', type=int, default=4096)
    a = ap.parse_args()
    docs = open(a.corpus, encoding='utf-8').read().split('\n' + EOT + '\n')
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=a.vocab, special_tokens=[EOT], min_frequency=2,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(docs, trainer=trainer)
    eot = tok.token_to_id(EOT)
    assert eot == 0, eot
    tok.post_processor = processors.TemplateProcessing(single=f'{EOT} $A', pair=f'{EOT} $A {EOT} $B', special_tokens=[(EOT, eot)])
    os.makedirs(a.out, exist_ok=True)
    tok.save(os.path.join(a.out, 'tokenizer.json'))
    cfg = {'tokenizer_class': 'PreTrainedTokenizerFast', 'bos_token': EOT, 'eos_token': EOT, 'pad_token': EOT,
           'unk_token': None, 'add_bos_token': True, 'add_eos_token': False, 'model_max_length': 256,
           'clean_up_tokenization_spaces': False, 'chat_template': CHAT_TEMPLATE}
    json.dump(cfg, open(os.path.join(a.out, 'tokenizer_config.json'), 'w'), indent=2)
    json.dump({'bos_token': EOT, 'eos_token': EOT, 'pad_token': EOT}, open(os.path.join(a.out, 'special_tokens_map.json'), 'w'), indent=2)
    sample = 'The Devil\'s Dictionary: a cynic is a blackguard.'
    print('vocab', tok.get_vocab_size(), 'sample ids', tok.encode(sample).ids[:20])
    n = sum(len(tok.encode(d).ids) for d in docs[:2000]); c = sum(len(d) for d in docs[:2000])
    print(f'chars/token {c/n:.2f}')


if __name__ == '__main__':
    main()
