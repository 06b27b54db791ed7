#!/usr/bin/env python3
"""Build the WebLoRA demo corpus and demo datasets from Debian packages (deterministic).

  python3 scripts/demo/gather_corpus.py [--work /tmp/weblora-corpus] [--out demo-data]

Downloads (apt-get download, no install) dict-gcide, dict-devil, fortunes, fortunes-min, unpacks them with
dpkg -x, and writes
  OUT/corpus-train.txt       documents separated by a line "<|endoftext|>" (pretraining + tokenizer text)
  OUT/heldout.jsonl          {"text": ...} held-out documents (the fixed eval text; never trained on)
  public/datasets/demo-style.jsonl, demo-define.jsonl, demo-define-eval.jsonl
Licences: GCIDE GPL-2+ (Debian copyright file: "version 2, or (at your option) any later version"),
Devil's Dictionary public domain, fortunes BSD (UCB) / per-file notes in the copyright file.
bible-kjv-text is not used: its data is in a custom compressed format (EC02) that needs the `bible` program.
"""
import argparse, glob, gzip, hashlib, json, os, re, subprocess, sys

PKGS = ['dict-gcide', 'dict-devil', 'fortunes', 'fortunes-min']
B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'


def b64(s):
    n = 0
    for c in s:
        n = n * 64 + B64.index(c)
    return n


def h(s):  # stable pseudo-random number in [0, 1) from a string
    return int(hashlib.sha256(s.encode()).hexdigest()[:12], 16) / 16 ** 12


def fetch(work):
    os.makedirs(work, exist_ok=True)
    root = os.path.join(work, 'root')
    if not os.path.isdir(os.path.join(root, 'usr/share/dictd')):
        subprocess.run(['apt-get', 'download'] + PKGS, cwd=work, check=True)
        for deb in sorted(glob.glob(os.path.join(work, '*.deb'))):
            subprocess.run(['dpkg', '-x', deb, root], check=True)
    return root


def dict_entries(root, name):
    data = gzip.open(os.path.join(root, f'usr/share/dictd/{name}.dict.dz')).read()
    out, seen = [], set()
    for line in open(os.path.join(root, f'usr/share/dictd/{name}.index'), encoding='utf-8'):
        word, off, ln = line.rstrip('\n').split('\t')
        if word.startswith('00') or off in seen:  # inflected headwords point at the same body: keep the first
            continue
        seen.add(off)
        out.append((word, data[b64(off):b64(off) + b64(ln)].decode('utf-8', 'replace')))
    return out


def ascii_ok(s):
    return all(32 <= ord(c) < 127 or c == '\n' for c in s)


def flow(par):  # join a hard-wrapped paragraph into one line
    return re.sub(r'\s+', ' ', par).strip()


def clean_gcide(word, body):
    """'Goose \\Goose\\ (g[=oo]s), n.; pl. ... [etym.] (Zool.)\n 1. Any large ...' -> 'Goose, n. 1. Any large ...'"""
    body = re.sub(r'\[(1913 Webster|WordNet 1\.5|PJC|Century Dict\.|RP|Webster 1913 Suppl\.)[^\]]*\]', '', body)
    body = re.sub(r'\[([a-z]{2})\]', r'\1', body)            # [ae] -> ae
    body = re.sub(r'\[[=*.^"`\'~,-]([A-Za-z])\]', r'\1', body)  # [=o] -> o
    body = body.replace('{', '').replace('}', '').replace('`', '')
    pars = [p for p in re.split(r'\n\s*\n', body) if p.strip()]
    if not pars:
        return None
    head = flow(pars[0])
    m = re.match(r'^[^\\]*\\[^\\]*\\\s*(\([^)]*\))?,?\s*(.*)$', head)
    if not m:
        return None
    rest = m.group(2)
    pos = re.match(r'^((?:n|v\. t|v\. i|a|adv|prep|conj|interj|pron|p\. p|imp)\.)', rest)
    pos = pos.group(1) if pos else ''
    rest = rest[len(pos):].lstrip(';, ')
    rest = re.sub(r'^(pl\. [^.\[]*\.\s*)', '', rest)
    rest = re.sub(r'^\[[^\]]*\]\.?\s*', '', rest)             # etymology
    rest = re.sub(r'^(\([A-Z][a-z]*\.\)\s*)+', '', rest)      # (Zool.)
    senses = [rest] + [flow(p) for p in pars[1:]]
    senses = [s for s in senses if s and not s.startswith('Syn.') and not s.startswith('--')]
    text = ' '.join(senses)
    if len(text) < 20 or not ascii_ok(text):
        return None
    return f'{word}, {pos} {text}' if pos else f'{word}: {text}'


def clean_devil(word, body):
    body = body.strip()
    if not ascii_ok(body):
        return None
    pars = re.split(r'\n\s*\n', body)
    first = flow(pars[0])
    m = re.match(r'^([A-Z][A-Z\'\- ,.]*?), ((?:[a-z]+\.\s*)+)\s*(.*)$', first)
    if not m:
        return None
    definition = m.group(3).strip()
    return {'word': word.lower(), 'pos': m.group(2).strip(), 'definition': definition,
            'doc': body.replace('_', '')}


def fortunes(root):
    out = []
    skip = {'ascii-art', 'translate-me', 'debian', 'perl', 'linux', 'linuxcookie', 'computers', 'zippy', 'startrek'}
    for f in sorted(glob.glob(os.path.join(root, 'usr/share/games/fortunes/*'))):
        base = os.path.basename(f)
        if '.' in base or base in skip:
            continue
        for item in open(f, encoding='latin-1').read().split('\n%\n'):
            item = item.strip('\n')
            if item.strip() and ascii_ok(item) and len(item) < 1500:
                out.append((base, item))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--work', default='/tmp/weblora-corpus')
    ap.add_argument('--out', default='demo-data')
    ap.add_argument('--gcide-fraction', type=float, default=1.0)
    a = ap.parse_args()
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    root = fetch(a.work)
    os.makedirs(a.out, exist_ok=True)

    devil = [d for d in (clean_devil(w, b) for w, b in dict_entries(root, 'devil')) if d]
    # demo-define: short Devil's Dictionary definitions; ~10% of words held out (by hash) -> eval file
    short = [d for d in devil if 15 <= len(d['definition']) <= 300 and ' ' not in d['word']]
    define_eval = {d['word'] for d in short if h('eval:' + d['word']) < 0.1}
    ds = os.path.join(repo, 'public/datasets')
    os.makedirs(ds, exist_ok=True)
    with open(os.path.join(ds, 'demo-define.jsonl'), 'w') as tr, open(os.path.join(ds, 'demo-define-eval.jsonl'), 'w') as ev:
        for d in short:
            row = json.dumps({'prompt': f"Define the word {d['word']}.\n", 'completion': d['definition']}) + '\n'
            (ev if d['word'] in define_eval else tr).write(row)

    # demo-style: one- or two-line aphorisms from fortunes (wisdom, platitudes, fortunes, people, ...)
    forts = fortunes(root)
    aph = [t for f, t in forts if f in ('wisdom', 'fortunes', 'platitudes', 'people', 'humorists', 'literature', 'love', 'work')
           and t.count('\n') <= 2 and 30 <= len(t) <= 200 and '\t' not in t]
    aph = sorted(aph, key=lambda t: h('style:' + t))[:400]
    style_set = set(aph)
    with open(os.path.join(ds, 'demo-style.jsonl'), 'w') as fo:
        for t in aph:
            fo.write(json.dumps({'text': flow(t)}) + '\n')

    # pretraining documents: every Devil's Dictionary entry except held-out define words; fortunes except the
    # style set; a deterministic fraction of GCIDE entries. ~1.5% of documents -> held out.
    docs = [d['doc'] for d in devil if d['word'] not in define_eval]
    docs += [t for f, t in forts if t not in style_set]
    for w, b in dict_entries(root, 'gcide'):
        if h('gcide:' + w) < a.gcide_fraction:
            c = clean_gcide(w, b)
            if c:
                docs.append(c)
    docs = sorted(set(docs), key=lambda t: h('doc:' + t))
    held = [d for d in docs if h('held:' + d) < 0.015]
    train = [d for d in docs if h('held:' + d) >= 0.015]
    with open(os.path.join(a.out, 'corpus-train.txt'), 'w') as fo:
        fo.write('\n<|endoftext|>\n'.join(train) + '\n')
    held = sorted(held, key=lambda t: h('order:' + t))[:300]
    with open(os.path.join(a.out, 'heldout.jsonl'), 'w') as fo:
        for d in held:
            fo.write(json.dumps({'text': d}) + '\n')
    n = sum(len(d) for d in train)
    print(f'train docs {len(train)} ({n/1e6:.2f} MB), heldout {len(held)}, devil {len(devil)}, define train '
          f'{len(short)-len(define_eval)} eval {len(define_eval)}, style {len(aph)}, fortunes {len(forts)}')


if __name__ == '__main__':
    main()
