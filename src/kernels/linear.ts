// LoRA's low-rank path on one linear layer, forward and backward side by side, plus the 16-bit weight packer.
//   forward:  xa = x·Aᵀ [T, r];  y += s·xa·Bᵀ [T, out]          (y already holds x·W₀ᵀ + b)
//   backward: g = dy·B [T, r];   dx (+)= s·g·A [T, in];   dA (+)= s·gᵀ·x [r, in];   dB (+)= s·dyᵀ·xa [out, r]
// Shapes: x [T, in], A [r, in], B [out, r], dy [T, out] (PyTorch/PEFT layouts: lora_A.weight, lora_B.weight).
// Every product has r as one of its three dimensions; matmul's planner gives r a 16/32-wide tile and splits the
// token dimension (K = T in dA and dB) over several workgroups, so these stay fast for r = 8..64.
import type { Gpu, Step } from '../engine/gpu/runtime';
import { matmul } from './matmul';

/**
 * Packs 16-bit values (f16 or bf16 bits) two per u32 word: element 2i in the low half of word i, element 2i+1 in
 * the high half; an odd count leaves the last word's high half zero. This is matmul's `bType: 'f16' | 'bf16'`
 * layout for frozen weights.
 */
export function packWeights16(src: Uint16Array): Uint32Array {
  const out = new Uint32Array(Math.ceil(src.length / 2));
  const pairs = src.length >> 1;
  for (let i = 0; i < pairs; i++) out[i] = src[2 * i] | (src[2 * i + 1] << 16);
  if (src.length & 1) out[pairs] = src[src.length - 1];
  return out;
}

export interface LoraShape {
  tokens: number;
  inDim: number;
  outDim: number;
  rank: number;
  /** s = α/r (LoRA) or α/√r (rsLoRA) */
  scale: number;
}

/** Records y [T, out] += s·(x·Aᵀ)·Bᵀ, saving xa = x·Aᵀ [T, r] for the backward. */
export async function loraForward(
  gpu: Gpu, step: Step, s: LoraShape,
  x: GPUBuffer, A: GPUBuffer, B: GPUBuffer, xa: GPUBuffer, y: GPUBuffer,
) {
  const { tokens: T, inDim, outDim, rank: r } = s;
  // xa [T, r] = x [T, in] · Aᵀ      (A stored [r, in])
  await matmul(gpu, step, { M: T, N: r, K: inDim, transB: true }, x, A, xa);
  // y [T, out] += s · xa [T, r] · Bᵀ (B stored [out, r])
  await matmul(gpu, step, { M: T, N: outDim, K: r, transB: true, accumulate: true, alpha: s.scale }, xa, B, y);
}

export interface LoraBackwardShape extends LoraShape {
  /** dx += … (the usual case: dx also receives the base path's dy·W₀) instead of dx = … */
  accumulateDx?: boolean;
  /** dA += …, dB += … (gradient accumulation over micro-batches) instead of overwriting */
  accumulate?: boolean;
}

/**
 * Records the LoRA backward. `xa` is the forward's saved x·Aᵀ [T, r]; `scratch` holds g = dy·B [T, r] (at least
 * T·r floats; its contents are overwritten). dx [T, in], dA [r, in], dB [out, r].
 */
export async function loraBackward(
  gpu: Gpu, step: Step, s: LoraBackwardShape,
  x: GPUBuffer, A: GPUBuffer, B: GPUBuffer, xa: GPUBuffer, dy: GPUBuffer,
  dx: GPUBuffer, dA: GPUBuffer, dB: GPUBuffer, scratch: GPUBuffer,
) {
  const { tokens: T, inDim, outDim, rank: r, scale } = s;
  const g = scratch;
  // g [T, r] = dy [T, out] · B [out, r]
  await matmul(gpu, step, { M: T, N: r, K: outDim }, dy, B, g);
  // dx [T, in] (+)= s · g [T, r] · A [r, in]
  await matmul(gpu, step, { M: T, N: inDim, K: r, accumulate: !!s.accumulateDx, alpha: scale }, g, A, dx);
  // dA [r, in] (+)= s · gᵀ · x      (g stored [T, r] = [K, M]: transA; K = T is long → split-K)
  await matmul(gpu, step, { M: r, N: inDim, K: T, transA: true, accumulate: !!s.accumulate, alpha: scale }, g, x, dA);
  // dB [out, r] (+)= s · dyᵀ · xa   (dy stored [T, out] = [K, M]: transA)
  await matmul(gpu, step, { M: outDim, N: r, K: T, transA: true, accumulate: !!s.accumulate, alpha: scale }, dy, xa, dB);
}
