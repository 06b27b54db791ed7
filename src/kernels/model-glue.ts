// Model glue: splitting GPT-2's fused q|k|v projection output into three tensors, and merging their gradients.
import type { Gpu, Step } from '../engine/gpu/runtime';
import source from './model-glue.wgsl?raw';

export interface SplitShape {
  rows: number;
  /** widths of the three parts, e.g. [C, C, C] for GPT-2's c_attn */
  widths: [number, number, number];
}

function grid(n: number): [number, number] {
  const groups = Math.ceil(n / 256);
  const x = Math.min(groups, 65535);
  return [x, Math.ceil(groups / x)];
}

async function run(gpu: Gpu, step: Step, s: SplitShape, split: boolean, fused: GPUBuffer, p0: GPUBuffer, p1: GPUBuffer, p2: GPUBuffer) {
  const pipeline = await gpu.pipeline(source, 'main', { SPLIT: split ? 1 : 0 });
  const params = gpu.uniform([s.rows, ...s.widths]);
  const [x, y] = grid(s.rows * (s.widths[0] + s.widths[1] + s.widths[2]));
  step.dispatch(pipeline, [params, fused, p0, p1, p2], x, y);
}

/** fused [rows, a+b+c] → part0 [rows, a], part1 [rows, b], part2 [rows, c] */
export async function splitColumns(gpu: Gpu, step: Step, s: SplitShape, fused: GPUBuffer, part0: GPUBuffer, part1: GPUBuffer, part2: GPUBuffer) {
  await run(gpu, step, s, true, fused, part0, part1, part2);
}

/** part0, part1, part2 → fused [rows, a+b+c] (overwrites fused) */
export async function mergeColumns(gpu: Gpu, step: Step, s: SplitShape, part0: GPUBuffer, part1: GPUBuffer, part2: GPUBuffer, fused: GPUBuffer) {
  await run(gpu, step, s, false, fused, part0, part1, part2);
}
