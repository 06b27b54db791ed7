// Matmul family: C[M, N] (+)= alpha · op(A) · op(B), with A or B optionally stored transposed.
import type { Gpu, Step } from '../engine/gpu/runtime';
import source from './matmul.wgsl?raw';

export interface MatmulShape {
  M: number;
  N: number;
  K: number;
  /** A stored [K, M] (use Aᵀ) */
  transA?: boolean;
  /** B stored [N, K] (use Bᵀ): y = x·Wᵀ for a PyTorch Linear weight W [out, in] */
  transB?: boolean;
  /** C += alpha·A·B instead of C = alpha·A·B */
  accumulate?: boolean;
  alpha?: number;
}

const TILE = 64;

export async function matmulPipeline(gpu: Gpu, s: Pick<MatmulShape, 'transA' | 'transB' | 'accumulate'>) {
  return gpu.pipeline(source, 'main', {
    TRANS_A: s.transA ? 1 : 0,
    TRANS_B: s.transB ? 1 : 0,
    ACCUMULATE: s.accumulate ? 1 : 0,
  });
}

/** Records C = alpha·op(A)·op(B) into the step. */
export async function matmul(gpu: Gpu, step: Step, s: MatmulShape, A: GPUBuffer, B: GPUBuffer, C: GPUBuffer) {
  const pipeline = await matmulPipeline(gpu, s);
  const params = gpu.uniform([s.M, s.N, s.K], 'mixed', [s.alpha ?? 1]);
  step.dispatch(pipeline, [params, A, B, C], Math.ceil(s.N / TILE), Math.ceil(s.M / TILE));
}
