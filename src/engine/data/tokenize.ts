// Example → token ids and labels (not yet shifted: labels[i] is the label OF token i, -100 = no loss).
//
// {text}: encode(text) with the tokenizer's special tokens, eos appended when the tokenizer does not add one
//   (as TRL's SFTTrainer does), every token a target.
// {prompt, completion} (and Alpaca): ids = encode(prompt + completion) with special tokens, + eos when the
//   tokenizer does not add one. With maskPrompt the first P tokens get -100, P = the prompt's own token count
//   (encode(prompt) with the post-processor's leading special tokens, without its trailing ones), capped by the
//   common prefix of the two encodings so a token that BPE merged across the boundary stays a target.
// {messages}: the chat template renders the full conversation and, for the prompt, all messages but the last
//   (assistant) one with add_generation_prompt=true; both encoded WITHOUT post-processor tokens (the template
//   writes them itself, as transformers' apply_chat_template(tokenize=True) does); no eos appended (the template
//   ends the turn). Masking as above.
// Then everything is truncated to `seq` tokens.
import type { Example } from './formats.ts';
import type { TextTokenizer } from '../io/tokenizer.ts';

export interface TokenizedExample {
  ids: number[];
  /** Same length as ids; -100 where no loss is taken. Not shifted. */
  labels: number[];
  /** Tokens masked as prompt (0 for text examples or maskPrompt=false). */
  promptTokens: number;
  /** True when the example was longer than seq and cut. */
  truncated: boolean;
}

export const IGNORE_INDEX = -100;

function commonPrefix(a: number[], b: number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

export function tokenizeExample(
  ex: Example,
  tok: TextTokenizer,
  seq: number,
  opts: { maskPrompt?: boolean } = {},
): TokenizedExample {
  try {
    return tokenizeUnchecked(ex, tok, seq, opts);
  } catch (e) {
    // Name the record ("file:line") when the failure comes from its content (e.g. a chat template raising).
    if (ex.source && !(e as Error).message.startsWith(ex.source)) throw new Error(`${ex.source}: ${(e as Error).message}`);
    throw e;
  }
}

function tokenizeUnchecked(ex: Example, tok: TextTokenizer, seq: number, opts: { maskPrompt?: boolean }): TokenizedExample {
  const maskPrompt = opts.maskPrompt ?? true;
  if (!Number.isInteger(seq) || seq < 1) throw new Error(`tokenizeExample: seq must be a positive integer, got ${seq}`);
  const withEos = (ids: number[]): number[] => (!tok.addsEos && tok.eosTokenId !== null ? [...ids, tok.eosTokenId] : ids);

  let ids: number[];
  let promptTokens = 0;
  if ('messages' in ex) {
    const full = tok.applyChatTemplate(ex.messages, { addGenerationPrompt: false });
    ids = tok.encode(full, { addSpecialTokens: false });
    if (maskPrompt) {
      const promptText = tok.applyChatTemplate(ex.messages.slice(0, -1), { addGenerationPrompt: true });
      const promptIds = tok.encode(promptText, { addSpecialTokens: false });
      promptTokens = Math.min(promptIds.length, commonPrefix(promptIds, ids));
    }
  } else if ('completion' in ex) {
    const prompt = ex.prompt ?? '';
    ids = withEos(tok.encode(prompt + ex.completion, { addSpecialTokens: true }));
    if (maskPrompt) {
      const withSpecial = tok.encode(prompt, { addSpecialTokens: true });
      const promptIds = withSpecial.slice(0, withSpecial.length - tok.specialTokenCounts.suffix);
      promptTokens = Math.min(promptIds.length, commonPrefix(promptIds, ids));
    }
  } else {
    ids = withEos(tok.encode(ex.text, { addSpecialTokens: true }));
  }

  const labels = ids.map((id, i) => (i < promptTokens ? IGNORE_INDEX : id));
  const truncated = ids.length > seq;
  return { ids: ids.slice(0, seq), labels: labels.slice(0, seq), promptTokens: Math.min(promptTokens, seq), truncated };
}
