// Loss family: fused cross-entropy forward + backward (gradient written over the logits) and a small
// deterministic sum for the per-row losses.
import type { Gpu, Step } from '../engine/gpu/runtime';
import { grid, widthFor, withLanes } from './lanes';
import source from './loss.wgsl?raw';

/**
 * rowLoss[r] = scale·CE(logits[r], labels[r]) (0 when ignored), and logits OVERWRITTEN by
 * dlogits = scale·(softmax − onehot) (zero rows when ignored). Labels outside [0, vocab), -100 in
 * particular, are ignored. logits f32 [rows, vocab]; labels i32 [rows]; scale f32 [1]; rowLoss f32 [rows].
 */
export async function crossEntropy(
  gpu: Gpu, step: Step, s: { rows: number; vocab: number },
  logits: GPUBuffer, labels: GPUBuffer, scale: GPUBuffer, rowLoss: GPUBuffer,
) {
  const width = widthFor(s.vocab);
  const pipeline = await gpu.pipeline(withLanes(source, width), 'cross_entropy');
  const params = gpu.uniform([s.rows, s.vocab / width, s.vocab]);
  step.dispatch(pipeline, [params, logits, labels, scale, rowLoss], ...grid(gpu, s.rows));
}

/** dst[0] (+)= Σ src[0..n). One workgroup: meant for short vectors such as per-row losses. */
export async function reduceSum(gpu: Gpu, step: Step, s: { n: number; accumulate?: boolean }, src: GPUBuffer, dst: GPUBuffer) {
  const width = widthFor(s.n);
  const pipeline = await gpu.pipeline(withLanes(source, width), 'reduce_sum', { ACCUMULATE: s.accumulate ? 1 : 0 });
  step.dispatch(pipeline, [gpu.uniform([s.n / width]), src, dst], 1);
}
