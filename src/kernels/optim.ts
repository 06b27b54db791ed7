// Optimizer family: global gradient norm² (for clip_grad_norm_) and AdamW with PyTorch semantics.
// Per-step values (lr, bias corrections, clip threshold) travel in a small storage buffer the caller
// rewrites each step with gpu.upload(hyperBuf, adamwHyper({...})): no uniform per learning rate.
import type { Gpu, Step } from '../engine/gpu/runtime';
import { WG, grid, widthFor, withLanes } from './lanes';
import source from './optim.wgsl?raw';

/** At most this many stage-1 workgroups per tensor; each thread sums at least 8 V elements. */
const MAX_GROUPS = 1024;
const PER_THREAD = 8;

const scratch = new WeakMap<Gpu, GPUBuffer>();
function partialsBuffer(gpu: Gpu, count: number): GPUBuffer {
  let buf = scratch.get(gpu);
  if (!buf || buf.size < count * 4) {
    // Grown, never destroyed: steps already recorded keep the buffer they bound.
    buf = gpu.buffer(Math.max(count, 1024) * 4 * 2, 'gradNorm partials');
    scratch.set(gpu, buf);
  }
  return buf;
}

/**
 * out[0] = Σ over all tensors of Σ x² (f32). Stage 1 writes fixed per-workgroup partial sums per tensor,
 * stage 2 adds them in one workgroup: deterministic. One dispatch per tensor plus one: pass a single
 * {buffer, n} covering a packed gradient arena when there are many small tensors.
 */
export async function gradNormSquared(gpu: Gpu, step: Step, tensors: { buffer: GPUBuffer; n: number }[], out: GPUBuffer) {
  const plan = tensors.map((t) => {
    const width = widthFor(t.n);
    const nV = t.n / width;
    return { ...t, width, nV, groups: Math.max(1, Math.min(MAX_GROUPS, Math.ceil(nV / (WG * PER_THREAD)))) };
  });
  const count = plan.reduce((s, t) => s + t.groups, 0);
  const partials = partialsBuffer(gpu, count);
  let offset = 0;
  for (const t of plan) {
    const pipeline = await gpu.pipeline(withLanes(source, t.width), 'partial_squares');
    step.dispatch(pipeline, [gpu.uniform([t.nV, offset, t.groups]), t.buffer, partials], t.groups);
    offset += t.groups;
  }
  const sum = await gpu.pipeline(withLanes(source, 1), 'sum_partials_main');
  step.dispatch(sum, [gpu.uniform([count]), partials, out], 1);
}

export interface AdamwHyperInput {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count (bias corrections) */
  step: number;
  /** clip_grad_norm_ max_norm; 0 = no clipping */
  maxGradNorm: number;
  /** multiplies the gradient before clipping and the update (e.g. 1/accumulation steps); default 1 */
  gradScale?: number;
}

/** Size in bytes of the storage buffer adamwHyper's output goes into. */
export const adamwHyperBytes = 48;

/** The per-step AdamW values, derived in float64 (layout private: see struct Hyper in optim.wgsl). */
export function adamwHyper(h: AdamwHyperInput): Float32Array {
  if (!(h.step >= 1)) throw new Error(`adamw step is 1-based, got ${h.step}`);
  const bc1 = 1 - h.beta1 ** h.step;
  const bc2 = 1 - h.beta2 ** h.step;
  const out = new Float32Array(adamwHyperBytes / 4);
  out.set([1 - h.lr * h.weightDecay, h.beta1, 1 - h.beta1, h.beta2, 1 - h.beta2, h.lr / bc1, Math.sqrt(bc2), h.eps, h.maxGradNorm, h.gradScale ?? 1]);
  return out;
}

/**
 * One AdamW step on param [n] in place, with moments m, v [n] (zero-initialised, f32).
 * hyper: storage buffer holding adamwHyper(...); normSq f32[1] from gradNormSquared over ALL the
 * gradients clipped together (read only when maxGradNorm > 0). Clipping uses the norm of the scaled
 * gradient grad·gradScale, which is what clip_grad_norm_ would see.
 */
export async function adamw(
  gpu: Gpu, step: Step, s: { n: number },
  param: GPUBuffer, grad: GPUBuffer, m: GPUBuffer, v: GPUBuffer, hyper: GPUBuffer, normSq: GPUBuffer,
) {
  const width = widthFor(s.n);
  const nV = s.n / width;
  const pipeline = await gpu.pipeline(withLanes(source, width), 'adamw');
  step.dispatch(pipeline, [gpu.uniform([nV]), param, grad, m, v, hyper, normSq], ...grid(gpu, Math.ceil(nV / WG)));
}
