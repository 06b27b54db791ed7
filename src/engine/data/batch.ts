// Tokenized examples → fixed-shape batches [B, seq], and which examples go into batch k.
import { IGNORE_INDEX, type TokenizedExample } from './tokenize.ts';
import { mulberry32 } from '../util/random';

export interface Batch {
  /** [B·seq] token ids, rows padded with padId. */
  ids: Uint32Array;
  /**
   * [B·seq] targets ALREADY SHIFTED: labels[t] is the target of position t, i.e. the next token ids[t+1] when that
   * token carries a label, else -100; the last real position of each row and all padding are -100.
   */
  labels: Int32Array;
  /** Number of labels ≠ -100 (the loss is averaged over these). */
  nLabelTokens: number;
}

/** examples.length must equal B; each is cut to seq tokens (tokenizeExample already does). */
export function makeBatch(examples: TokenizedExample[], B: number, seq: number, padId: number): Batch {
  if (examples.length !== B) throw new Error(`makeBatch: ${examples.length} examples for a batch of ${B}`);
  if (!Number.isInteger(padId) || padId < 0) throw new Error(`makeBatch: padId ${padId} is not a token id (set a pad or eos token)`);
  const ids = new Uint32Array(B * seq).fill(padId);
  const labels = new Int32Array(B * seq).fill(IGNORE_INDEX);
  let nLabelTokens = 0;
  examples.forEach((ex, b) => {
    const len = Math.min(ex.ids.length, seq);
    const row = b * seq;
    for (let t = 0; t < len; t++) ids[row + t] = ex.ids[t];
    for (let t = 0; t + 1 < len; t++) {
      const target = ex.labels[t + 1];
      labels[row + t] = target;
      if (target !== IGNORE_INDEX) nLabelTokens++;
    }
  });
  return { ids, labels, nLabelTokens };
}

const permCache = new Map<string, Uint32Array>();
/** The order of the n examples in a given epoch: Fisher–Yates driven by (seed, epoch). */
export function epochPermutation(n: number, seed: number, epoch: number): Uint32Array {
  const key = `${n}:${seed}:${epoch}`;
  let perm = permCache.get(key);
  if (!perm) {
    perm = Uint32Array.from({ length: n }, (_, i) => i);
    const rand = mulberry32(Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b));
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const tmp = perm[i];
      perm[i] = perm[j];
      perm[j] = tmp;
    }
    if (permCache.size > 8) permCache.clear();
    permCache.set(key, perm);
  }
  return perm;
}

/**
 * Indices of the B examples of batch k (0-based). Example slot p = k·B + j runs through the data set epoch after
 * epoch: with noShuffle slot p holds example p mod n, i.e. batch k holds (k·B + j) mod n; otherwise example
 * perm_e[p mod n] with e = floor(p / n) and perm_e = epochPermutation(n, seed, e).
 */
export function batchOrder(n: number, B: number, k: number, opts: { noShuffle?: boolean; seed?: number } = {}): number[] {
  if (n < 1) throw new Error('batchOrder: empty data set');
  const out: number[] = [];
  for (let j = 0; j < B; j++) {
    const p = k * B + j;
    if (opts.noShuffle) out.push(p % n);
    else out.push(epochPermutation(n, opts.seed ?? 0, Math.floor(p / n))[p % n]);
  }
  return out;
}

/** padId = tokenizer pad token ?? eos (as the interfaces agree). */
export function padIdFor(tok: { padTokenId?: number; eosTokenId: number | null }): number {
  const id = tok.padTokenId ?? tok.eosTokenId;
  if (id === null || id === undefined) throw new Error('the tokenizer has neither a pad token nor an eos token to pad with');
  return id;
}
