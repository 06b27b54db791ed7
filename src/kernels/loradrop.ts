// LoRA-drop's importance kernel (loradrop.wgsl): the weighted squared norm of the LoRA output per token,
//   rowSq[t] = w[t]·‖s·B·xa_t‖²  from xa = x·Aᵀ [T, r] and B [out, r]
// The method sums rowSq into one scalar per layer with loss.ts's reduceSum (accumulating over the sample).
import type { Gpu, Step } from '../engine/gpu/runtime';
import { grid, withLanes } from './lanes';
import source from './loradrop.wgsl?raw';

export interface LowRankNormShape {
  tokens: number;
  outDim: number;
  rank: number;
  /** s = α/r (α/√r for rsLoRA) */
  scale: number;
}

/** rowSq [T] = rowWeight[t] · ‖s·B·xa_t‖².  xa [T, r], B [out, r], rowWeight [T] */
export async function lowRankRowSumSq(gpu: Gpu, step: Step, s: LowRankNormShape, xa: GPUBuffer, B: GPUBuffer, rowWeight: GPUBuffer, rowSq: GPUBuffer) {
  // short rows (out of a few dozen) waste most of 256 threads; 64 still covers 4096-wide layers in 64 strides
  const pipe = await gpu.pipeline(withLanes(source, 1), 'lowrank_row_sumsq', { WG: 64 });
  step.dispatch(pipe, [gpu.uniform([s.tokens, s.outDim, s.rank], 'mixed', [s.scale]), xa, B, rowWeight, rowSq], ...grid(gpu, s.tokens));
}
