// AdaLoRA's small kernels (see adalora.wgsl): the orthogonal regulariser's Frobenius norms and gradient factor,
// its loss term, the RankAllocator's importance averages, the per-triplet scores and the mask on E. The products
// themselves (A·Aᵀ, Bᵀ·B, the low-rank path) are matmul's.
import type { Gpu, Step } from '../engine/gpu/runtime';
import { WG, grid, widthFor, withLanes } from './lanes';
import source from './adalora.wgsl?raw';

/** P [r, r] ← (coef/‖P − I‖_F)·(P − I) in place (0 when the norm is 0); norms[slot] = ‖P − I‖_F. */
export async function orthNorm(gpu: Gpu, step: Step, s: { r: number; slot: number; coef: number }, P: GPUBuffer, norms: GPUBuffer) {
  const pipe = await gpu.pipeline(withLanes(source, 1), 'orth_norm');
  step.dispatch(pipe, [gpu.uniform([s.r, s.slot], 'mixed', [s.coef]), P, norms], 1);
}

/** lossSum[0] += weight · (Σ norms[0..count) / count). */
export async function orthLoss(gpu: Gpu, step: Step, s: { count: number; weight: number }, norms: GPUBuffer, lossSum: GPUBuffer) {
  const pipe = await gpu.pipeline(withLanes(source, 1), 'orth_loss');
  step.dispatch(pipe, [gpu.uniform([s.count], 'mixed', [s.weight]), norms, lossSum], 1);
}

export interface ImportanceShape {
  n: number;
  beta1: number;
  beta2: number;
  /** clip_grad_norm_'s max_norm (0: no clipping); normSq holds Σ‖g‖² over every trainable gradient */
  maxGradNorm: number;
}

/** ipt = |p ⊙ g·clip|;  ī ← β₁ī + (1−β₁)·ipt;  ū ← β₂ū + (1−β₂)·|ipt − ī|.  p, g, ī, ū [n] */
export async function importanceUpdate(
  gpu: Gpu, step: Step, s: ImportanceShape,
  param: GPUBuffer, grad: GPUBuffer, normSq: GPUBuffer, avgIpt: GPUBuffer, avgUnc: GPUBuffer,
) {
  const width = widthFor(s.n);
  const nV = s.n / width;
  const pipe = await gpu.pipeline(withLanes(source, width), 'importance');
  const u = gpu.uniform([nV], 'mixed', [s.beta1, 1 - s.beta1, s.beta2, 1 - s.beta2, s.maxGradNorm]);
  step.dispatch(pipe, [u, param, grad, normSq, avgIpt, avgUnc], ...grid(gpu, Math.ceil(nV / WG)));
}

/** The (ī, ū) pair of one tensor. */
export interface Averages {
  ipt: GPUBuffer;
  unc: GPUBuffer;
}

/**
 * scores[offset + k] = ī_E ū_E[k] + (mean_i (ī ū)_A[k, i] + mean_o (ī ū)_B[o, k]) for k < r: PEFT's triplet score
 * of rank k (A [r, in], E [r], B [out, r]).
 */
export async function tripletScores(
  gpu: Gpu, step: Step, s: { r: number; inDim: number; outDim: number; offset: number },
  A: Averages, E: Averages, B: Averages, scores: GPUBuffer,
) {
  const pipe = await gpu.pipeline(withLanes(source, 1), 'triplet_score');
  step.dispatch(pipe, [gpu.uniform([s.r, s.inDim, s.outDim, s.offset]), A.ipt, A.unc, E.ipt, E.unc, B.ipt, B.unc, scores], s.r);
}

/** E[k] ← 0 where mask[offset + k] = 0.  E [r] */
export async function maskE(gpu: Gpu, step: Step, s: { r: number; offset: number }, mask: GPUBuffer, E: GPUBuffer) {
  const pipe = await gpu.pipeline(withLanes(source, 1), 'mask_e');
  step.dispatch(pipe, [gpu.uniform([s.r, s.offset]), mask, E], 1);
}
