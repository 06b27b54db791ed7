// Activation family: SwiGLU and gelu_new forward/backward, residual add, bias add. Element-wise, one thread
// per element (vec4 lanes when the counts are multiples of 4), 2D grids past 65535 workgroups.
import type { Gpu, Step } from '../engine/gpu/runtime';
import { WG, grid, widthFor, withLanes, type Width } from './lanes';
import source from './activation.wgsl?raw';

async function run(gpu: Gpu, step: Step, entry: string, n: number, width: Width, buffers: GPUBuffer[], cols = 0, accumulate = false) {
  const pipeline = await gpu.pipeline(withLanes(source, width), entry, { ACCUMULATE: accumulate ? 1 : 0 });
  const nV = n / width;
  const params = gpu.uniform([nV, cols / width]);
  step.dispatch(pipeline, [params, ...buffers], ...grid(gpu, Math.ceil(nV / WG)));
}

/** out = silu(gate)·up.  gate, up, out [n] */
export async function swigluForward(gpu: Gpu, step: Step, s: { n: number }, gate: GPUBuffer, up: GPUBuffer, out: GPUBuffer) {
  await run(gpu, step, 'swiglu_forward', s.n, widthFor(s.n), [gate, up, out]);
}

/** dgate = dout·up·silu'(gate), dup = dout·silu(gate) (both overwritten) */
export async function swigluBackward(
  gpu: Gpu, step: Step, s: { n: number },
  dout: GPUBuffer, gate: GPUBuffer, up: GPUBuffer, dgate: GPUBuffer, dup: GPUBuffer,
) {
  await run(gpu, step, 'swiglu_backward', s.n, widthFor(s.n), [dout, gate, up, dgate, dup]);
}

/** y = gelu_new(x) (tanh approximation, GPT-2).  x, y [n] */
export async function geluForward(gpu: Gpu, step: Step, s: { n: number }, x: GPUBuffer, y: GPUBuffer) {
  await run(gpu, step, 'gelu_forward', s.n, widthFor(s.n), [x, y]);
}

/** dx (+)= dy·gelu_new'(x) */
export async function geluBackward(gpu: Gpu, step: Step, s: { n: number; accumulate?: boolean }, dy: GPUBuffer, x: GPUBuffer, dx: GPUBuffer) {
  await run(gpu, step, 'gelu_backward', s.n, widthFor(s.n), [dy, x, dx], 0, !!s.accumulate);
}

/** dst += src.  [n] */
export async function addInto(gpu: Gpu, step: Step, s: { n: number }, dst: GPUBuffer, src: GPUBuffer) {
  await run(gpu, step, 'add_into', s.n, widthFor(s.n), [dst, src]);
}

/** y[r, c] += bias[c].  y [rows, cols], bias [cols] */
export async function biasAdd(gpu: Gpu, step: Step, s: { rows: number; cols: number }, y: GPUBuffer, bias: GPUBuffer) {
  await run(gpu, step, 'bias_add', s.rows * s.cols, widthFor(s.cols), [y, bias], s.cols);
}
