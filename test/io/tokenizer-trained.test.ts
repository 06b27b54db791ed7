// A byte-level BPE trained with the Rust `tokenizers` 0.23 (Python) on a few READMEs, with Llama 3's split regex,
// NFC and a TemplateProcessing BOS; expected ids/decodes were produced by the same library. Checks that the JS
// tokenizer matches Rust on realistic text (unicode, digits, contractions, CRLF, special tokens inside text),
// with merges in both spellings.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createTokenizer } from '../../src/engine/io/tokenizer.ts';

const dir = new URL('./fixtures/', import.meta.url);
const tokenizerJson = JSON.parse(readFileSync(new URL('trained-bpe-tokenizer.json', dir), 'utf8'));
const expected: { text: string; with: number[]; without: number[]; decoded: string }[] = JSON.parse(
  readFileSync(new URL('trained-bpe-expected.json', dir), 'utf8'),
);

describe('TextTokenizer matches Rust tokenizers on a trained BPE', () => {
  const legacy = {
    ...tokenizerJson,
    model: { ...tokenizerJson.model, merges: (tokenizerJson.model.merges as [string, string][]).map(([a, b]) => `${a} ${b}`) },
  };
  for (const [name, json] of [['pairs', tokenizerJson], ['legacy strings', legacy]] as const) {
    it(`merges as ${name}`, () => {
      const tok = createTokenizer(json, { eos_token: '<|end_of_text|>', clean_up_tokenization_spaces: false });
      expect(tok.eosTokenId).toBe(1);
      for (const e of expected) {
        expect(tok.encode(e.text, { addSpecialTokens: false }), e.text).toEqual(e.without);
        expect(tok.encode(e.text), e.text).toEqual(e.with);
        expect(tok.decode(e.without)).toBe(e.decoded);
      }
    });
  }
});
