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
 * stage 2 adds them in one workgroup: deterministic. Stage 1 takes up to 8 tensors per dispatch.
 */
export async function gradNormSquared(gpu: Gpu, step: Step, tensors: { buffer: GPUBuffer; n: number }[], out: GPUBuffer) {
  const plan = tensors.map((t) => {
    const width = widthFor(t.n);
    const nV = t.n / width;
    return { ...t, width, nV, groups: Math.max(1, Math.min(MAX_GROUPS, Math.ceil(nV / (WG * PER_THREAD)))), offset: 0 };
  });
  let count = 0;
  for (const t of plan) {
    t.offset = count;
    count += t.groups;
  }
  const partials = partialsBuffer(gpu, count);
  // Up to 8 tensors of one lane width per dispatch when the device binds 9 storage buffers (most do when
  // asked, as device.ts does); else one dispatch per tensor.
  const batch = (gpu.info.limits.maxStorageBuffersPerShaderStage ?? 8) >= 9 ? 8 : 1;
  for (const width of [4, 1] as const) {
    const same = plan.filter((t) => t.width === width);
    for (let b = 0; b < same.length; b += batch) {
      const chunk = same.slice(b, b + batch);
      if (chunk.length === 1) {
        const t = chunk[0];
        const pipeline = await gpu.pipeline(withLanes(source, width), 'partial_squares');
        step.dispatch(pipeline, [gpu.uniform([t.nV, t.offset, t.groups]), t.buffer, partials], t.groups);
        continue;
      }
      const words = new Array(32).fill(0);
      chunk.forEach((t, j) => words.splice(4 * j, 3, t.nV, t.offset, t.groups));
      const buffers = Array.from({ length: 8 }, (_, j) => (chunk[j] ?? chunk[0]).buffer);
      const pipeline = await gpu.pipeline(withLanes(source, width), 'partial_squares8');
      const maxGroups = Math.max(...chunk.map((t) => t.groups));
      step.dispatch(pipeline, [gpu.uniform(words), ...buffers, partials], maxGroups, chunk.length);
    }
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

export interface AdamwTensor {
  n: number;
  param: GPUBuffer;
  grad: GPUBuffer;
  m: GPUBuffer;
  v: GPUBuffer;
}

/**
 * adamw() over many tensors sharing one hyper buffer (one parameter group), two per dispatch where the
 * device binds 10 storage buffers and the tensors are vec4-wide: for LoRA's hundreds of small tensors this
 * halves the dispatch count. The buffers of different tensors must be distinct.
 */
export async function adamwMany(gpu: Gpu, step: Step, tensors: AdamwTensor[], hyper: GPUBuffer, normSq: GPUBuffer) {
  const canBatch = (gpu.info.limits.maxStorageBuffersPerShaderStage ?? 8) >= 10;
  const maxGroups = gpu.info.limits.maxComputeWorkgroupsPerDimension ?? 65535;
  const batchable = tensors.filter((t) => canBatch && t.n % 4 === 0 && Math.ceil(t.n / 4 / WG) <= maxGroups);
  const rest = tensors.filter((t) => !batchable.includes(t));
  const pairs = batchable.length - (batchable.length % 2);
  if (pairs) {
    const pipeline = await gpu.pipeline(withLanes(source, 4), 'adamw2');
    for (let b = 0; b < pairs; b += 2) {
      const [a, c] = [batchable[b], batchable[b + 1]];
      const nV = [a.n / 4, c.n / 4];
      step.dispatch(
        pipeline,
        [gpu.uniform(nV), a.param, a.grad, a.m, a.v, hyper, normSq, c.param, c.grad, c.m, c.v],
        Math.ceil(Math.max(...nV) / WG), 2,
      );
    }
  }
  for (const t of [...batchable.slice(pairs), ...rest]) await adamw(gpu, step, { n: t.n }, t.param, t.grad, t.m, t.v, hyper, normSq);
}
