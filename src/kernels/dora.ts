// DoRA's per-row kernels (see dora.wgsl): the detached row norm of W₀ + s·B·A and the column scale c = m/n,
// the forward scale y = c ⊙ z (z saved), and the backward dz = c ⊙ dy and dm (+)= Σ_t dy·z / n.
// The low-rank products themselves are LoRA's (linear.ts).
import type { Gpu, Step } from '../engine/gpu/runtime';
import { WG, grid, withLanes } from './lanes';
import source from './dora.wgsl?raw';

export interface DoraShape {
  tokens: number;
  inDim: number;
  outDim: number;
  rank: number;
  scale: number;
}

const DTYPE = { f32: 0, f16: 1, bf16: 2 } as const;

function params(gpu: Gpu, s: DoraShape) {
  return gpu.uniform([s.tokens, s.inDim, s.outDim, s.rank], 'mixed', [s.scale]);
}

/** norm [out] = ‖W₀ + s·B·A‖_row, colScale [out] = m / norm.  W₀ [out, in] (weightTransposed) or [in, out]. */
export async function doraRowNorm(
  gpu: Gpu, step: Step, s: DoraShape & { weightType: 'f32' | 'f16' | 'bf16'; weightTransposed: boolean },
  W: GPUBuffer, A: GPUBuffer, B: GPUBuffer, magnitude: GPUBuffer, norm: GPUBuffer, colScale: GPUBuffer,
) {
  const pipe = await gpu.pipeline(withLanes(source, 1), 'row_norm', { W_DTYPE: DTYPE[s.weightType], W_TRANSPOSED: s.weightTransposed ? 1 : 0 });
  step.dispatch(pipe, [params(gpu, s), W, A, B, magnitude, norm, colScale], ...grid(gpu, s.outDim));
}

/** zSaved = y; y = colScale ⊙ y (per column).  y, zSaved [T, out] */
export async function doraScaleForward(gpu: Gpu, step: Step, s: DoraShape, y: GPUBuffer, zSaved: GPUBuffer, colScale: GPUBuffer) {
  const pipe = await gpu.pipeline(withLanes(source, 1), 'scale_forward');
  step.dispatch(pipe, [params(gpu, s), y, zSaved, colScale], ...grid(gpu, Math.ceil((s.tokens * s.outDim) / WG)));
}

/** dz = colScale ⊙ dy;  dm (+)= Σ_t dy·z / norm.  dy, z, dz [T, out]; dm, norm, colScale [out] */
export async function doraBackward(
  gpu: Gpu, step: Step, s: DoraShape & { accumulate?: boolean },
  dy: GPUBuffer, z: GPUBuffer, norm: GPUBuffer, colScale: GPUBuffer, dz: GPUBuffer, dm: GPUBuffer,
) {
  const p = params(gpu, s);
  const scale = await gpu.pipeline(withLanes(source, 1), 'scale_backward');
  step.dispatch(scale, [p, dy, colScale, dz], ...grid(gpu, Math.ceil((s.tokens * s.outDim) / WG)));
  const mag = await gpu.pipeline(withLanes(source, 1), 'magnitude_grad', { ACCUMULATE: s.accumulate ? 1 : 0 });
  step.dispatch(mag, [p, dy, z, norm, dm], ...grid(gpu, s.outDim));
}

// ---- the same two column kernels, named for other methods (VeRA's λ_d / λ_b scales) ----

/** dst = c ⊙ src per column.  src, dst [rows, cols]; c [cols] */
export async function columnScale(gpu: Gpu, step: Step, s: { rows: number; cols: number }, src: GPUBuffer, c: GPUBuffer, dst: GPUBuffer) {
  const pipe = await gpu.pipeline(withLanes(source, 1), 'scale_backward');
  step.dispatch(pipe, [params(gpu, { tokens: s.rows, inDim: 0, outDim: s.cols, rank: 0, scale: 0 }), src, c, dst], ...grid(gpu, Math.ceil((s.rows * s.cols) / WG)));
}

/** out[c] (+)= Σ_r a[r,c]·b[r,c] / divisor[c] (divisor: a buffer of ones for a plain column dot).  a, b [rows, cols] */
export async function columnDot(
  gpu: Gpu, step: Step, s: { rows: number; cols: number; accumulate?: boolean },
  a: GPUBuffer, b: GPUBuffer, divisor: GPUBuffer, out: GPUBuffer,
) {
  const pipe = await gpu.pipeline(withLanes(source, 1), 'magnitude_grad', { ACCUMULATE: s.accumulate ? 1 : 0 });
  step.dispatch(pipe, [params(gpu, { tokens: s.rows, inDim: 0, outDim: s.cols, rank: 0, scale: 0 }), a, b, divisor, out], ...grid(gpu, s.cols));
}
