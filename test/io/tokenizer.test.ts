import { describe, expect, it } from 'vitest';
import { createTokenizer, loadTokenizer, normaliseMerges } from '../../src/engine/io/tokenizer.ts';
import { memorySource } from '../../src/engine/io/files.ts';
import { CHAT_TEMPLATE, IDS, tinyTokenizerConfig, tinyTokenizerJson } from './tiny-tokenizer.ts';

// Expected ids come from the Rust `tokenizers` 0.23 Python package on the same tokenizer.json files.
const cases: [string, number[]][] = [
  ['hello world', [259, 262, 108, 100]],
  ['hello<s>hello </s>', [259, 263, 259, 32, 264]],
  [' héllo\n\nworld!', [32, 104, 195, 169, 257, 111, 10, 10, 119, 261, 108, 100, 33]],
  ['', []],
];

describe('TextTokenizer over a hand-built byte-level BPE', () => {
  for (const merges of ['pairs', 'legacy'] as const) {
    it(`encodes and decodes like the Rust tokenizers (merges as ${merges})`, () => {
      const tok = createTokenizer(tinyTokenizerJson({ merges, post: 'bos' }), tinyTokenizerConfig());
      for (const [text, plain] of cases) {
        expect(tok.encode(text, { addSpecialTokens: false })).toEqual(plain);
        expect(tok.encode(text, { addSpecialTokens: true })).toEqual([IDS.bos, ...plain]);
        expect(tok.encode(text)).toEqual([IDS.bos, ...plain]);
        expect(tok.decode(plain)).toBe(text);
      }
      expect(tok.decode([IDS.bos, 259, IDS.eos], { skipSpecialTokens: true })).toBe('hello');
      expect(tok.decode([IDS.bos, 259, IDS.eos])).toBe('<s>hello</s>');
    });
  }

  it('reports the post-processor tokens, eos/bos/pad ids and vocab size', () => {
    const bos = createTokenizer(tinyTokenizerJson({ post: 'bos' }), tinyTokenizerConfig());
    expect(bos.specialTokenCounts).toEqual({ prefix: 1, suffix: 0 });
    expect(bos.addsEos).toBe(false);
    expect(bos.eosTokenId).toBe(IDS.eos);
    expect(bos.eosTokenIds).toEqual([IDS.eos]);
    expect(bos.bosTokenId).toBe(IDS.bos);
    expect(bos.padTokenId).toBe(IDS.pad);
    expect(bos.vocabSize).toBe(266);

    const both = createTokenizer(tinyTokenizerJson({ merges: 'legacy', post: 'bos-eos' }), tinyTokenizerConfig(), { eosTokenIds: [7, IDS.eos] });
    expect(both.encode('hello world')).toEqual([IDS.bos, 259, 262, 108, 100, IDS.eos]);
    expect(both.specialTokenCounts).toEqual({ prefix: 1, suffix: 1 });
    expect(both.addsEos).toBe(true);
    expect(both.eosTokenIds).toEqual([IDS.eos, 7]);

    const none = createTokenizer(tinyTokenizerJson({ post: 'none' }), { eos_token: '</s>' }, { padTokenId: 3 });
    expect(none.encode('hello world')).toEqual([259, 262, 108, 100]);
    expect(none.specialTokenCounts).toEqual({ prefix: 0, suffix: 0 });
    expect(none.padTokenId).toBe(3);
    expect(none.bosTokenId).toBeNull();
    expect(none.hasChatTemplate).toBe(false);
    expect(() => none.applyChatTemplate([{ role: 'user', content: 'x' }])).toThrow(/no chat_template/);
  });

  it('renders the chat template with bos/eos variables and add_generation_prompt', () => {
    const tok = createTokenizer(tinyTokenizerJson(), tinyTokenizerConfig());
    const msgs = [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'hello' },
    ];
    expect(tok.applyChatTemplate(msgs)).toBe('<s><|user|>\nhi</s>\n<|assistant|>\nhello</s>\n');
    expect(tok.applyChatTemplate(msgs.slice(0, 1), { addGenerationPrompt: true })).toBe('<s><|user|>\nhi</s>\n<|assistant|>\n');
    // A template listed by name, and one from chat_template.jinja overriding tokenizer_config.
    const named = createTokenizer(tinyTokenizerJson(), tinyTokenizerConfig({ chat_template: [{ name: 'default', template: '{{ eos_token }}' }] }));
    expect(named.applyChatTemplate(msgs)).toBe('</s>');
  });

  it('normalises both merges spellings and rejects malformed ones', () => {
    expect(normaliseMerges(['a b', ['c', 'd']])).toEqual([['a', 'b'], ['c', 'd']]);
    expect(() => normaliseMerges(['a b c'])).toThrow(/merge 0/);
    expect(() => normaliseMerges([['a']])).toThrow(/merge 0/);
  });

  it('loads from a folder: tokenizer.json, tokenizer_config.json, chat_template.jinja', async () => {
    const src = memorySource({
      'tokenizer.json': JSON.stringify(tinyTokenizerJson({ merges: 'legacy' })),
      'tokenizer_config.json': JSON.stringify(tinyTokenizerConfig({ chat_template: undefined })),
      'chat_template.jinja': CHAT_TEMPLATE,
    });
    const tok = await loadTokenizer(src);
    expect(tok.encode('hello')).toEqual([IDS.bos, IDS.hello]);
    expect(tok.applyChatTemplate([{ role: 'user', content: 'x' }])).toBe('<s><|user|>\nx</s>\n');
    await expect(loadTokenizer(memorySource({}))).rejects.toThrow(/tokenizer\.json not found/);
  });
});

describe('chat templates render as Python jinja2 does (transformers settings: sandbox, trim_blocks, lstrip_blocks)', async () => {
  const { readFileSync } = await import('node:fs');
  const fixture = JSON.parse(readFileSync(new URL('./fixtures/chat-templates-expected.json', import.meta.url), 'utf8')) as {
    messages: { role: string; content: string }[];
    templates: Record<string, { template: string; full: string; prompt: string }>;
  };
  for (const [name, t] of Object.entries(fixture.templates)) {
    it(`${name}-style template`, () => {
      const tok = createTokenizer(tinyTokenizerJson(), { bos_token: '<|begin_of_text|>', eos_token: '<|eot_id|>', chat_template: t.template });
      expect(tok.applyChatTemplate(fixture.messages)).toBe(t.full);
      expect(tok.applyChatTemplate(fixture.messages.slice(0, -1), { addGenerationPrompt: true })).toBe(t.prompt);
    });
  }
});
