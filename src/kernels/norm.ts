// Norm family: RMSNorm (Llama, Qwen2) and LayerNorm (GPT-2), forward and backward (dx only: the norm
// weights stay frozen under LoRA). One workgroup per row; vec4 lanes when dim is a multiple of 4.
import type { Gpu, Step } from '../engine/gpu/runtime';
import { grid, widthFor, withLanes } from './lanes';
import source from './norm.wgsl?raw';

export interface NormShape {
  rows: number;
  dim: number;
}
export interface NormForwardShape extends NormShape {
  eps: number;
}
export interface NormBackwardShape extends NormShape {
  /** dx += instead of dx = (the residual stream's gradient is summed into) */
  accumulate?: boolean;
}

/**
 * Threads per row: about 4 V elements each, between 64 and 256. Short rows (GPT-2's 768 = 192 vec4) then
 * use small workgroups, so more rows are in flight and fewer reduction rounds are spent per row.
 */
export function normThreads(dimV: number): number {
  return dimV <= 256 ? 64 : dimV <= 512 ? 128 : 256;
}

async function run(gpu: Gpu, step: Step, entry: string, s: NormShape, eps: number, accumulate: boolean, buffers: GPUBuffer[]) {
  const width = widthFor(s.dim);
  const dimV = s.dim / width;
  const pipeline = await gpu.pipeline(withLanes(source, width), entry, { ACCUMULATE: accumulate ? 1 : 0, WG: normThreads(dimV) });
  const params = gpu.uniform([s.rows, dimV, s.dim], 'mixed', [eps]);
  step.dispatch(pipeline, [params, ...buffers], ...grid(gpu, s.rows));
}

/** y = weight · (x · rstd), rstd = 1/sqrt(mean(x²) + eps) saved per row.  x, y [rows, dim]; weight [dim]; rstd [rows] */
export async function rmsnormForward(gpu: Gpu, step: Step, s: NormForwardShape, x: GPUBuffer, weight: GPUBuffer, y: GPUBuffer, rstd: GPUBuffer) {
  await run(gpu, step, 'rmsnorm_forward', s, s.eps, false, [x, weight, y, rstd]);
}

/** dx (+)= ∂L/∂x of RMSNorm given dy, using the forward's rstd. */
export async function rmsnormBackward(gpu: Gpu, step: Step, s: NormBackwardShape, dy: GPUBuffer, x: GPUBuffer, weight: GPUBuffer, rstd: GPUBuffer, dx: GPUBuffer) {
  await run(gpu, step, 'rmsnorm_backward', s, 0, !!s.accumulate, [dy, x, weight, rstd, dx]);
}

/** y = (x − mean)·rstd·weight + bias (biased variance, as torch.nn.LayerNorm); mean, rstd [rows] saved. */
export async function layernormForward(
  gpu: Gpu, step: Step, s: NormForwardShape,
  x: GPUBuffer, weight: GPUBuffer, bias: GPUBuffer, y: GPUBuffer, mean: GPUBuffer, rstd: GPUBuffer,
) {
  await run(gpu, step, 'layernorm_forward', s, s.eps, false, [x, weight, bias, y, mean, rstd]);
}

/** dx (+)= ∂L/∂x of LayerNorm given dy, using the forward's mean and rstd. */
export async function layernormBackward(
  gpu: Gpu, step: Step, s: NormBackwardShape,
  dy: GPUBuffer, x: GPUBuffer, weight: GPUBuffer, mean: GPUBuffer, rstd: GPUBuffer, dx: GPUBuffer,
) {
  await run(gpu, step, 'layernorm_backward', s, 0, !!s.accumulate, [dy, x, weight, mean, rstd, dx]);
}
