// PEFT's lora_dropout: the low-rank path sees dropout(x), the frozen base path the undropped x (lora.Linear.forward):
//   forward:  xd = dropout(x) [T, in];  xa = xd·Aᵀ [T, r] (saved);  y += s·xa·Bᵀ
//   backward: g = dy·B [T, r];  dA (+)= s·gᵀ·xd;  dB (+)= s·dyᵀ·xa;  dx += mask ⊙ (s·g·A) / (1 − p)
// The mask is a hash of (layer stream, micro-batch counter, element) (dropout.wgsl), so nothing [T, in] is kept per
// layer: the forward writes xd into shared scratch and the backward regenerates it from the same counter.
import type { Gpu, Step } from '../engine/gpu/runtime';
import { WG, grid, widthFor, withLanes } from './lanes';
import { loraForward, type LoraBackwardShape, type LoraShape } from './linear';
import { matmul } from './matmul';
import source from './dropout.wgsl?raw';

/** keep iff (hash >> 8) ≥ ⌈p·2²⁴⌉: an integer test, so every implementation draws the same mask. */
export const dropoutThreshold = (p: number) => Math.ceil(p * 2 ** 24);

/** A layer's stream from the run's seed and the layer's name (FNV-1a), so layers and seeds draw different masks. */
export function dropoutStream(seed: number, name: string): number {
  let h = 2166136261 ^ Math.imul(seed >>> 0, 0x9e3779b1);
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h >>> 0;
}

const sources = new Map<number, string>();
function sourceFor(width: 1 | 4): string {
  let s = sources.get(width);
  if (!s) {
    const lanes = width === 4 ? 'alias U = vec4<u32>;\nconst LANES = vec4<u32>(0u, 1u, 2u, 3u);\n' : 'alias U = u32;\nconst LANES = 0u;\n';
    sources.set(width, (s = withLanes(lanes + source, width)));
  }
  return s;
}

export interface DropoutShape {
  /** elements */
  n: number;
  /** drop probability, 0 ≤ p < 1 */
  p: number;
  /** the layer's stream (dropoutStream) */
  stream: number;
  /** dst += … instead of dst = … */
  accumulate?: boolean;
}

/** dst [n] (+)= keep ⊙ src / (1 − p), keep from (stream, counter[0], index). src and dst must differ. */
export async function dropout(gpu: Gpu, step: Step, s: DropoutShape, counter: GPUBuffer, src: GPUBuffer, dst: GPUBuffer) {
  if (!(s.p >= 0 && s.p < 1)) throw new Error(`dropout p must be in [0, 1), got ${s.p}`);
  const width = widthFor(s.n);
  const pipeline = await gpu.pipeline(sourceFor(width), 'main', { ACCUMULATE: s.accumulate ? 1 : 0 });
  const nV = s.n / width;
  const params = gpu.uniform([nV, s.stream >>> 0, dropoutThreshold(s.p)], 'mixed', [1 / (1 - s.p)]);
  step.dispatch(pipeline, [params, counter, src, dst], ...grid(gpu, Math.ceil(nV / WG)));
}

/**
 * One layer's dropout: p, its stream, and the micro-batch counter on the GPU. next() draws a new mask for a training
 * forward by bumping the counter with a queue write: it lands after the previous submit and before this step's, so
 * a micro-batch's forward and backward (one Step) both read it. Never two training forwards in one Step.
 */
export class DropoutMask {
  private counterBuf: GPUBuffer;
  private count = 0;

  constructor(private gpu: Gpu, readonly p: number, readonly stream: number, label = 'dropout') {
    if (!(p > 0 && p < 1)) throw new Error(`dropout p must be in (0, 1), got ${p}`);
    this.counterBuf = gpu.buffer(4, `${label} dropout counter`, new Uint32Array([0]));
  }

  /** masks drawn so far (a resumed run sets it back) */
  get counter(): number {
    return this.count;
  }
  set counter(c: number) {
    this.count = c >>> 0;
    this.gpu.upload(this.counterBuf, new Uint32Array([this.count]));
  }

  next(): void {
    this.counter = this.count + 1;
  }

  /** dst (+)= mask ⊙ src / (1 − p) with the current mask, over n elements */
  apply(step: Step, n: number, src: GPUBuffer, dst: GPUBuffer, accumulate = false) {
    return dropout(this.gpu, step, { n, p: this.p, stream: this.stream, accumulate }, this.counterBuf, src, dst);
  }
}

/** LoRA's forward on dropout(x) with a fresh mask: xd [T, in] goes to `xd` (scratch), xa [T, r] is saved. */
export async function loraDropoutForward(
  gpu: Gpu, step: Step, s: LoraShape, mask: DropoutMask,
  x: GPUBuffer, A: GPUBuffer, B: GPUBuffer, xa: GPUBuffer, y: GPUBuffer, xd: GPUBuffer,
) {
  mask.next();
  await mask.apply(step, s.tokens * s.inDim, x, xd);
  await loraForward(gpu, step, s, xd, A, B, xa, y);
}

/**
 * LoRA's backward after loraDropoutForward of the same micro-batch (same mask). dx is always added to. `g` [T, r] and
 * `work` [T, in] are scratch: work holds xd for dA, then s·g·A before its masked add into dx.
 */
export async function loraDropoutBackward(
  gpu: Gpu, step: Step, s: LoraBackwardShape, mask: DropoutMask,
  x: GPUBuffer, A: GPUBuffer, B: GPUBuffer, xa: GPUBuffer, dy: GPUBuffer,
  dx: GPUBuffer, dA: GPUBuffer, dB: GPUBuffer, g: GPUBuffer, work: GPUBuffer,
) {
  const { tokens: T, inDim, outDim, rank: r, scale } = s, acc = !!s.accumulate;
  await matmul(gpu, step, { M: T, N: r, K: outDim }, dy, B, g); // g [T, r] = dy·B
  await mask.apply(step, T * inDim, x, work); // xd again
  await matmul(gpu, step, { M: r, N: inDim, K: T, transA: true, accumulate: acc, alpha: scale }, g, work, dA); // dA (+)= s·gᵀ·xd
  await matmul(gpu, step, { M: outDim, N: r, K: T, transA: true, accumulate: acc, alpha: scale }, dy, xa, dB); // dB (+)= s·dyᵀ·xa
  await matmul(gpu, step, { M: T, N: inDim, K: r, alpha: scale }, g, A, work); // work = s·g·A = ∂L/∂xd
  await mask.apply(step, T * inDim, work, dx, true); // dx += mask ⊙ work / (1 − p)
}
