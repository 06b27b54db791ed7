// Picking the next token from one row of logits, on the CPU: greedy, or sampling with temperature, top-k and
// top-p (nucleus) applied in that order, as transformers' generate() does.

export interface SamplingOptions {
  greedy?: boolean;
  /** ≤ 0 means greedy */
  temperature?: number;
  /** keep only the k most likely tokens (0 = all) */
  topK?: number;
  /** keep the smallest set of most likely tokens whose probability reaches p (1 = all) */
  topP?: number;
}

export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** `rand` gives uniform [0, 1) (seeded by the caller). */
export function sampleToken(logits: Float32Array, o: SamplingOptions, rand: () => number): number {
  const temperature = o.temperature ?? 1;
  if (o.greedy || temperature <= 0) return argmax(logits);
  // candidates sorted by logit, descending; top-k cuts the list before the softmax
  let order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]);
  if (o.topK && o.topK > 0 && o.topK < order.length) order = order.slice(0, o.topK);
  const max = logits[order[0]];
  let probs = order.map((i) => Math.exp((logits[i] - max) / temperature));
  let sum = probs.reduce((a, b) => a + b, 0);
  probs = probs.map((p) => p / sum);
  const topP = o.topP ?? 1;
  if (topP < 1) {
    // keep tokens while the mass BEFORE them is below p (so the first token is always kept)
    let mass = 0;
    let keep = 0;
    while (keep < probs.length && mass < topP) mass += probs[keep++];
    order = order.slice(0, keep);
    probs = probs.slice(0, keep);
    sum = probs.reduce((a, b) => a + b, 0);
    probs = probs.map((p) => p / sum);
  }
  let u = rand();
  for (let j = 0; j < probs.length; j++) {
    u -= probs[j];
    if (u < 0) return order[j];
  }
  return order[order.length - 1];
}
