// A dataset file → tokenized examples → micro-batches for the trainer (the CLI and the web worker share it).
// {text}: encode(text) with the tokenizer's special tokens, truncated to seq, every token a target, no eos appended:
// the contract's eval ("each example ... truncated to N tokens") and the PyTorch fixtures do exactly this.
// Other formats (prompt/completion, Alpaca, messages) go through tokenizeExample (prompt masked, eos appended).
import { parseDataset, type Example } from './formats';
import { tokenizeExample, type TokenizedExample } from './tokenize';
import { makeBatch } from './batch';
import type { TextTokenizer } from '../io/tokenizer';

export interface TokenizedDataset {
  count: number;
  examples: TokenizedExample[];
  /** micro-batch of these examples: ids/labels [indices.length, seq], right-padded with padId */
  batch(indices: number[]): { ids: Uint32Array; labels: Int32Array; nLabelTokens: number };
}

export function tokenizeExamples(examples: Example[], tokenizer: TextTokenizer, seq: number, padId: number, opts: { maskPrompt?: boolean } = {}): TokenizedDataset {
  const tokenized = examples.map((ex) => {
    if ('text' in ex) {
      const all = tokenizer.encode(ex.text, { addSpecialTokens: true });
      const ids = all.slice(0, seq);
      return { ids, labels: ids.slice(), promptTokens: 0, truncated: all.length > seq };
    }
    return tokenizeExample(ex, tokenizer, seq, opts);
  });
  return {
    count: tokenized.length,
    examples: tokenized,
    batch(indices) {
      const b = makeBatch(indices.map((i) => tokenized[i]), indices.length, seq, padId);
      return { ids: b.ids, labels: b.labels, nLabelTokens: b.nLabelTokens };
    },
  };
}

/** Parses a JSONL / JSON / CSV / TXT file's text (format detected) and tokenizes every example. */
export function tokenizeDataset(text: string, fileName: string, tokenizer: TextTokenizer, seq: number, padId: number): TokenizedDataset {
  const examples = parseDataset(text, fileName);
  if (!examples.length) throw new Error(`${fileName}: no examples`);
  return tokenizeExamples(examples, tokenizer, seq, padId);
}
