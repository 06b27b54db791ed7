// TextTokenizer: tokenizer.json + tokenizer_config.json through @huggingface/tokenizers, chat templates through
// @huggingface/jinja (the same two libraries transformers.js uses, so results match transformers).
import { Tokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import type { FileSource } from './files.ts';

export interface ChatMessage {
  role: string;
  content: string;
}

export interface TextTokenizer {
  /** ids; with addSpecialTokens the post-processor's tokens (e.g. BOS) are added as transformers does. */
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  decode(ids: ArrayLike<number>, opts?: { skipSpecialTokens?: boolean }): string;
  /** Every id that ends generation: tokenizer_config eos_token, config.json and generation_config.json eos ids. */
  eosTokenIds: number[];
  /** The tokenizer's own eos_token (appended to training examples), else the first of eosTokenIds; null if none. */
  eosTokenId: number | null;
  bosTokenId: number | null;
  /** pad_token from tokenizer_config, else the model config's pad_token_id; undefined when neither has one. */
  padTokenId: number | undefined;
  /** Number of ids including added tokens (max id + 1). */
  vocabSize: number;
  /** How many special ids encode(…, {addSpecialTokens: true}) puts before and after the text's own ids. */
  specialTokenCounts: { prefix: number; suffix: number };
  /** True when encode with special tokens already ends with an eos id (then nobody should append another). */
  addsEos: boolean;
  hasChatTemplate: boolean;
  /** Render messages with the chat template (throws when the tokenizer has none). */
  applyChatTemplate(messages: ChatMessage[], opts?: { addGenerationPrompt?: boolean }): string;
  tokenToId(token: string): number | undefined;
}

type Json = Record<string, unknown>;

/** tokenizer_config special tokens are strings or AddedToken dicts ({content, ...}). */
function tokenText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return null;
}

/** Both spellings of BPE merges: legacy "a b" strings and [["a","b"]] pairs (tokenizers ≥ 0.20). Returns pairs. */
export function normaliseMerges(merges: unknown, fileName = 'tokenizer.json'): [string, string][] {
  if (!Array.isArray(merges)) throw new Error(`${fileName}: model.merges is not an array`);
  return merges.map((m, i) => {
    if (typeof m === 'string') {
      const parts = m.split(' ');
      if (parts.length !== 2) throw new Error(`${fileName}: merge ${i} ${JSON.stringify(m)} is not "a b"`);
      return [parts[0], parts[1]];
    }
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') return [m[0], m[1]];
    throw new Error(`${fileName}: merge ${i} ${JSON.stringify(m)} is neither "a b" nor ["a", "b"]`);
  });
}

export interface TokenizerExtras {
  /** A chat template from chat_template.jinja / chat_template.json, which override tokenizer_config's. */
  chatTemplate?: string | null;
  /** eos ids from config.json / generation_config.json (ModelConfig.eosTokenIds). */
  eosTokenIds?: number[];
  bosTokenId?: number | null;
  padTokenId?: number;
}

export function createTokenizer(tokenizerJson: Json, tokenizerConfig: Json = {}, extras: TokenizerExtras = {}): TextTokenizer {
  // Normalise what the library is picky about: merges spelled as pairs, added_tokens present.
  const tj: Json = { ...tokenizerJson, added_tokens: tokenizerJson.added_tokens ?? [] };
  const model = tokenizerJson.model as Json | undefined;
  if (!model || typeof model !== 'object') throw new Error('tokenizer.json: no model section');
  if (model.type === 'BPE' || model.merges !== undefined) tj.model = { ...model, merges: normaliseMerges(model.merges ?? []) };
  const tok = new Tokenizer(tj, tokenizerConfig);

  const idOf = (v: unknown): number | null => {
    const t = tokenText(v);
    return t === null ? null : (tok.token_to_id(t) ?? null);
  };
  const configEos = idOf(tokenizerConfig.eos_token);
  const eosTokenIds = [...new Set([...(configEos !== null ? [configEos] : []), ...(extras.eosTokenIds ?? [])])];
  const bosTokenId = idOf(tokenizerConfig.bos_token) ?? extras.bosTokenId ?? null;
  const padTokenId = idOf(tokenizerConfig.pad_token) ?? extras.padTokenId;
  let vocabSize = 0;
  for (const id of tok.get_vocab(true).values()) vocabSize = Math.max(vocabSize, id + 1);

  let chatTemplate: string | null = extras.chatTemplate ?? null;
  if (!chatTemplate) {
    const ct = tokenizerConfig.chat_template;
    if (typeof ct === 'string') chatTemplate = ct;
    else if (Array.isArray(ct)) {
      const named = ct as { name: string; template: string }[];
      chatTemplate = (named.find((t) => t.name === 'default') ?? named[0])?.template ?? null;
    }
  }
  let compiled: Template | null = null;
  const specialVars: Json = {};
  for (const key of ['bos_token', 'eos_token', 'unk_token', 'pad_token']) {
    const t = tokenText(tokenizerConfig[key]);
    if (t !== null) specialVars[key] = t;
  }

  const encode = (text: string, opts: { addSpecialTokens?: boolean } = {}): number[] =>
    tok.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).ids;

  // Probe where the post-processor puts its tokens, around a text whose own ids we know.
  const probe = 'a';
  const plain = encode(probe, { addSpecialTokens: false });
  const full = encode(probe, { addSpecialTokens: true });
  let prefix = 0;
  for (; prefix + plain.length <= full.length; prefix++) {
    if (plain.every((id, i) => full[prefix + i] === id)) break;
  }
  if (prefix + plain.length > full.length) prefix = 0; // unreachable with sane post-processors
  const suffix = full.length - prefix - plain.length;
  const addsEos = suffix > 0 && eosTokenIds.includes(full[full.length - 1]);

  return {
    encode,
    decode(ids, opts = {}) {
      const list = Array.from(ids);
      if (list.length === 0) return '';
      return tok.decode(list, { skip_special_tokens: opts.skipSpecialTokens ?? false });
    },
    eosTokenIds,
    eosTokenId: configEos ?? eosTokenIds[0] ?? null,
    bosTokenId,
    padTokenId,
    vocabSize,
    specialTokenCounts: { prefix, suffix },
    addsEos,
    hasChatTemplate: chatTemplate !== null,
    applyChatTemplate(messages, opts = {}) {
      if (chatTemplate === null) throw new Error('the tokenizer has no chat_template (tokenizer_config.json / chat_template.jinja)');
      compiled ??= new Template(chatTemplate);
      return compiled.render({ ...specialVars, messages, add_generation_prompt: opts.addGenerationPrompt ?? false });
    },
    tokenToId: (t) => tok.token_to_id(t),
  };
}

/** Load the tokenizer files of a model folder. */
export async function loadTokenizer(src: FileSource, extras: TokenizerExtras = {}): Promise<TextTokenizer> {
  const names = new Set(await src.list());
  if (!names.has('tokenizer.json')) {
    throw new Error('tokenizer.json not found in the model folder (only fast-tokenizer files are supported)');
  }
  const parse = async (name: string): Promise<Json> => {
    try {
      return JSON.parse(await src.readText(name)) as Json;
    } catch (e) {
      throw new Error(`${name}: ${(e as Error).message}`);
    }
  };
  const tokenizerJson = await parse('tokenizer.json');
  const tokenizerConfig = names.has('tokenizer_config.json') ? await parse('tokenizer_config.json') : {};
  let chatTemplate = extras.chatTemplate ?? null;
  if (!chatTemplate && names.has('chat_template.jinja')) chatTemplate = await src.readText('chat_template.jinja');
  if (!chatTemplate && names.has('chat_template.json')) {
    const ct = (await parse('chat_template.json')).chat_template;
    if (typeof ct === 'string') chatTemplate = ct;
  }
  return createTokenizer(tokenizerJson, tokenizerConfig, { ...extras, chatTemplate });
}
