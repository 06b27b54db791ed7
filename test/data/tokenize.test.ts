import { describe, expect, it } from 'vitest';
import { batchOrder, epochPermutation, makeBatch, padIdFor, tokenizeExample, parseDataset, type TokenizedExample } from '../../src/engine/data/index.ts';
import { createTokenizer } from '../../src/engine/io/tokenizer.ts';
import { IDS, tinyTokenizerConfig, tinyTokenizerJson } from '../io/tiny-tokenizer.ts';

// "hello world" → [hello 259, Ġwor 262, l 108, d 100]; <s> 263, </s> 264, <pad> 265.
const bosTok = createTokenizer(tinyTokenizerJson({ post: 'bos' }), tinyTokenizerConfig());
const bosEosTok = createTokenizer(tinyTokenizerJson({ post: 'bos-eos' }), tinyTokenizerConfig());
const M = -100;

describe('tokenizeExample', () => {
  it('text: special tokens, eos appended once, every token a label', () => {
    expect(tokenizeExample({ text: 'hello world' }, bosTok, 64)).toEqual({
      ids: [IDS.bos, 259, 262, 108, 100, IDS.eos], labels: [IDS.bos, 259, 262, 108, 100, IDS.eos], promptTokens: 0, truncated: false,
    });
    // A post-processor that appends eos itself: no second eos.
    expect(tokenizeExample({ text: 'hello world' }, bosEosTok, 64).ids).toEqual([IDS.bos, 259, 262, 108, 100, IDS.eos]);
  });

  it('prompt/completion: prompt tokens masked, eos appended, maskPrompt=false keeps them', () => {
    const ex = { prompt: 'hello', completion: ' world' };
    expect(tokenizeExample(ex, bosTok, 64)).toEqual({
      ids: [IDS.bos, 259, 262, 108, 100, IDS.eos], labels: [M, M, 262, 108, 100, IDS.eos], promptTokens: 2, truncated: false,
    });
    expect(tokenizeExample(ex, bosTok, 64, { maskPrompt: false }).labels).toEqual([IDS.bos, 259, 262, 108, 100, IDS.eos]);
    // The post-processor's trailing eos is not counted as prompt.
    expect(tokenizeExample(ex, bosEosTok, 64)).toEqual({
      ids: [IDS.bos, 259, 262, 108, 100, IDS.eos], labels: [M, M, 262, 108, 100, IDS.eos], promptTokens: 2, truncated: false,
    });
    // No prompt: only the BOS is masked.
    expect(tokenizeExample({ completion: 'hello' }, bosTok, 64).labels).toEqual([M, 259, IDS.eos]);
  });

  it('a token merged across the prompt/completion boundary stays a target', () => {
    // "hel" alone → [he, l]; "hello" → [hello]: only the BOS is common, so only it is masked.
    expect(tokenizeExample({ prompt: 'hel', completion: 'lo' }, bosTok, 64)).toEqual({
      ids: [IDS.bos, 259, IDS.eos], labels: [M, 259, IDS.eos], promptTokens: 1, truncated: false,
    });
  });

  it('Alpaca records are masked up to the response', () => {
    const [ex] = parseDataset('{"instruction": "Say hi.", "output": "hello"}', 'a.jsonl');
    const t = tokenizeExample(ex, bosTok, 1024);
    const prompt = bosTok.encode((ex as { prompt: string }).prompt);
    expect(t.promptTokens).toBe(prompt.length);
    expect(t.ids.slice(0, prompt.length)).toEqual(prompt);
    expect(bosTok.decode(t.labels.filter((l) => l !== M))).toBe('hello</s>');
  });

  it('messages: chat template, prompt = all but the last message with the generation prompt', () => {
    const ex = { messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }] };
    const t = tokenizeExample(ex, bosTok, 1024);
    const full = bosTok.encode('<s><|user|>\nhi</s>\n<|assistant|>\nhello</s>\n', { addSpecialTokens: false });
    const prompt = bosTok.encode('<s><|user|>\nhi</s>\n<|assistant|>\n', { addSpecialTokens: false });
    expect(t.ids).toEqual(full);
    expect(t.ids[0]).toBe(IDS.bos); // once, from the template, not again from the post-processor
    expect(t.ids[1]).not.toBe(IDS.bos);
    expect(t.promptTokens).toBe(prompt.length);
    expect(t.labels.slice(0, prompt.length).every((l) => l === M)).toBe(true);
    expect(bosTok.decode(t.labels.slice(prompt.length))).toBe('hello</s>\n');
    const noTemplate = createTokenizer(tinyTokenizerJson(), { eos_token: '</s>' });
    expect(() => tokenizeExample(ex, noTemplate, 64)).toThrow(/no chat_template/);
    expect(() => tokenizeExample({ ...ex, source: 'c.jsonl:7' }, noTemplate, 64)).toThrow(/^c\.jsonl:7: the tokenizer has no chat_template/);
  });

  it('truncates to seq', () => {
    const t = tokenizeExample({ prompt: 'hello', completion: ' world' }, bosTok, 3);
    expect(t).toEqual({ ids: [IDS.bos, 259, 262], labels: [M, M, 262], promptTokens: 2, truncated: true });
    expect(tokenizeExample({ prompt: 'hello', completion: ' world' }, bosTok, 1).promptTokens).toBe(1);
  });
});

describe('makeBatch and batchOrder', () => {
  it('shifts labels by one, pads with padId and -100, counts label tokens', () => {
    const a: TokenizedExample = { ids: [10, 11, 12, 13], labels: [M, M, 12, 13], promptTokens: 2, truncated: false };
    const b: TokenizedExample = { ids: [20, 21], labels: [20, 21], promptTokens: 0, truncated: false };
    const batch = makeBatch([a, b], 2, 5, 99);
    expect(Array.from(batch.ids)).toEqual([10, 11, 12, 13, 99, 20, 21, 99, 99, 99]);
    // row a: position 0 predicts 11 (masked), 1 → 12, 2 → 13, 3 is the last token, 4 is padding
    expect(Array.from(batch.labels)).toEqual([M, 12, 13, M, M, 21, M, M, M, M]);
    expect(batch.nLabelTokens).toBe(3);
    expect(() => makeBatch([a], 2, 5, 99)).toThrow(/1 examples for a batch of 2/);
  });

  it('end to end: parse → tokenize → batch, labels[t] is ids[t+1] wherever there is a label', () => {
    const examples = parseDataset('{"prompt": "hello", "completion": " world"}\n{"text": "hello"}\n', 'e.jsonl');
    const tok = examples.map((e) => tokenizeExample(e, bosTok, 6));
    const batch = makeBatch(tok, 2, 6, padIdFor(bosTok));
    expect(padIdFor(bosTok)).toBe(IDS.pad);
    for (let i = 0; i < 12; i++) {
      if (batch.labels[i] !== M) expect(batch.labels[i]).toBe(batch.ids[i + 1]);
    }
    expect(Array.from(batch.labels)).toEqual([M, 262, 108, 100, IDS.eos, M, 259, IDS.eos, M, M, M, M]);
    expect(batch.nLabelTokens).toBe(6);
    expect(padIdFor({ eosTokenId: 5 })).toBe(5);
    expect(() => padIdFor({ eosTokenId: null })).toThrow(/neither a pad token nor an eos/);
  });

  it('noShuffle: batch k holds examples (k·B + j) mod n', () => {
    expect(batchOrder(5, 2, 0, { noShuffle: true })).toEqual([0, 1]);
    expect(batchOrder(5, 2, 2, { noShuffle: true })).toEqual([4, 0]);
    expect(batchOrder(5, 2, 7, { noShuffle: true })).toEqual([4, 0]);
    expect(batchOrder(3, 4, 1, { noShuffle: true })).toEqual([1, 2, 0, 1]);
  });

  it('shuffle: each epoch visits every example once, reproducible by seed', () => {
    const n = 7, B = 3;
    const slots = Array.from({ length: 7 }, (_, k) => batchOrder(n, B, k, { seed: 42 })).flat(); // 21 slots = 3 epochs
    for (let e = 0; e < 3; e++) expect([...slots.slice(e * n, e * n + n)].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(batchOrder(n, B, 4, { seed: 42 })).toEqual(slots.slice(12, 15));
    const perms = [0, 1, 2].map((e) => Array.from(epochPermutation(50, 42, e)).join());
    expect(new Set(perms).size).toBe(3);
    expect(Array.from(epochPermutation(50, 43, 0)).join()).not.toBe(perms[0]);
    expect(Array.from(epochPermutation(50, 42, 0)).join()).toBe(perms[0]);
  });
});
