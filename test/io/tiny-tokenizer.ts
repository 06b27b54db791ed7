// A hand-built byte-level BPE tokenizer.json (GPT-2 style) small enough to reason about in tests.
// Ids 0..255 are the 256 byte symbols (id = byte value), then a few merges, then the special tokens.

/** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to 256+n. */
export function byteToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const out: string[] = new Array(256);
  bs.forEach((b, i) => (out[b] = String.fromCodePoint(cs[i])));
  return out;
}

export const MERGES: [string, string][] = [
  ['h', 'e'], ['l', 'l'], ['he', 'll'], ['hell', 'o'], ['Ġ', 'w'], ['o', 'r'], ['Ġw', 'or'],
];
export const IDS = { hello: 259, Ġwor: 262, bos: 263, eos: 264, pad: 265 };

export interface TinyOptions {
  /** 'legacy' → ["h e", ...]; 'pairs' → [["h","e"], ...] */
  merges?: 'legacy' | 'pairs';
  /** 'bos' → TemplateProcessing "<s> $A" (Llama 3 style); 'bos-eos' → "<s> $A </s>"; 'none' → ByteLevel only. */
  post?: 'bos' | 'bos-eos' | 'none';
}

export function tinyTokenizerJson(opts: TinyOptions = {}): Record<string, unknown> {
  const b2u = byteToUnicode();
  const vocab: Record<string, number> = {};
  b2u.forEach((ch, b) => (vocab[ch] = b));
  MERGES.forEach(([a, b], i) => (vocab[a + b] = 256 + i));
  const special = (content: string, id: number) => ({
    id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  });
  const tokenRef = (t: string) => ({ SpecialToken: { id: t, type_id: 0 } });
  const seq = { Sequence: { id: 'A', type_id: 0 } };
  const specials = {
    '<s>': { id: '<s>', ids: [IDS.bos], tokens: ['<s>'] },
    '</s>': { id: '</s>', ids: [IDS.eos], tokens: ['</s>'] },
  };
  const post = opts.post ?? 'bos';
  const postProcessor =
    post === 'none'
      ? { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true }
      : {
          type: 'TemplateProcessing',
          single: post === 'bos' ? [tokenRef('<s>'), seq] : [tokenRef('<s>'), seq, tokenRef('</s>')],
          pair: [tokenRef('<s>'), seq, { Sequence: { id: 'B', type_id: 1 } }],
          special_tokens: specials,
        };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special('<s>', IDS.bos), special('</s>', IDS.eos), special('<pad>', IDS.pad)],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: postProcessor,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: (opts.merges ?? 'pairs') === 'pairs' ? MERGES : MERGES.map(([a, b]) => `${a} ${b}`),
    },
  };
}

export const CHAT_TEMPLATE =
  "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}{{ eos_token }}\n{% endfor %}" +
  '{% if add_generation_prompt %}<|assistant|>\n{% endif %}';

export function tinyTokenizerConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    bos_token: '<s>',
    eos_token: { content: '</s>', lstrip: false, normalized: false, rstrip: false, single_word: false },
    pad_token: '<pad>',
    clean_up_tokenization_spaces: false,
    chat_template: CHAT_TEMPLATE,
    ...extra,
  };
}
