// GPU memory a training run will take, before anything is allocated, from the buffers the engine makes:
// frozen weights (kept in their file dtype), per-layer activations saved for backward and the shared scratch
// (model/llama.ts, gpt2.ts, causal-lm.ts: all f32, sized for N = batch × seq tokens), the logits chunk, and the
// adapter (parameters, gradients and both AdamW moments in f32, plus its [N, r] activations per adapted layer).
// WebGPU does not say how much memory a GPU has, so the check against the adapter is on its buffer limits; the
// total is shown for the person to compare with their GPU.
import type { ModelInfo, MemoryEstimate } from './types';

/** causal-lm.ts LOGIT_CHUNK_BYTES: the LM head's logits are computed this many bytes of rows at a time */
const LOGIT_CHUNK_BYTES = 64 * 1024 * 1024;

export interface EstimatePlan {
  batch: number;
  seq: number;
  r: number;
  /** trainable scalars of the chosen method on the chosen layers */
  adapterParams: number;
  adaptedLayers: number;
}

export function estimateMemory(m: ModelInfo, p: EstimatePlan, limits: { maxBufferSize: number; maxStorageBufferBindingSize: number }, largestWeight: { name: string; bytes: number }): MemoryEstimate {
  const N = p.batch * p.seq, C = m.hidden, I = m.intermediate, V = m.vocabSize, L = m.layers;
  const D = m.hidden / m.heads;
  const HD = m.heads * D, KVD = m.kvHeads * D;
  const f = 4;
  // per layer, kept for backward: norms' inputs/outputs, q/k/v, attention output and its log-sum-exp, the MLP
  const perLayer = m.arch === 'gpt2'
    ? N * (5 * C + 4 + 3 * C + C + m.heads + 2 * I) * f
    : N * (3 * C + 2 + 2 * HD + 2 * KVD + m.heads + 2 * I) * f;
  // shared scratch for forward temporaries and backward intermediates (sized once for all layers)
  const scratch = N * (2 * C + 2 * HD + 2 * KVD + 4 * I) * f;
  const R = Math.max(1, Math.min(N, Math.floor(LOGIT_CHUNK_BYTES / (V * f))));
  const model = ((L + 1 + 3) * N * C + 4 * N + R * (V + 2 * C + 2)) * f;
  const activations = perLayer * L + scratch + model;
  const adapter = p.adapterParams * f * 4 + p.adaptedLayers * N * Math.max(1, p.r) * f * 2;
  const weights = m.weightBytes;

  const candidates: [string, number][] = [
    [largestWeight.name, largestWeight.bytes],
    ['logits chunk', R * V * f],
    ['MLP activations', N * I * f],
    ['residual stream', N * C * f],
  ];
  const [largestBufferName, largestBuffer] = candidates.reduce((a, b) => (b[1] > a[1] ? b : a));
  const blockers: string[] = [];
  const gib = (n: number) => `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (largestBuffer > limits.maxBufferSize)
    blockers.push(`The ${largestBufferName} needs one buffer of ${gib(largestBuffer)}, more than this GPU allows (maxBufferSize ${gib(limits.maxBufferSize)}). Lower the batch or sequence length, or pick a smaller model.`);
  else if (largestBuffer > limits.maxStorageBufferBindingSize)
    blockers.push(`The ${largestBufferName} (${gib(largestBuffer)}) is larger than one shader may bind on this GPU (maxStorageBufferBindingSize ${gib(limits.maxStorageBufferBindingSize)}). Lower the batch or sequence length, or pick a smaller model.`);
  if (p.seq > m.contextLength) blockers.push(`Sequence length ${p.seq} is longer than the model's context (${m.contextLength} tokens).`);
  return { weights, activations, adapter, total: weights + activations + adapter, largestBuffer, largestBufferName, blockers, limits };
}
