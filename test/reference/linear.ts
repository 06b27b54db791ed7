// float64 CPU reference for LoRA on one linear layer (shapes as src/kernels/linear.ts):
//   forward:  xa = x·Aᵀ [T, r];  y = y0 + s·xa·Bᵀ [T, out]
//   backward: g = dy·B [T, r];   dx = dx0 + s·g·A;   dA = dA0 + s·gᵀ·x;   dB = dB0 + s·dyᵀ·xa
import { matmulRef } from './matmul';

export interface LoraDims { T: number; inDim: number; outDim: number; r: number; s: number }

export function loraForwardRef(d: LoraDims, x: ArrayLike<number>, A: ArrayLike<number>, B: ArrayLike<number>, y0: ArrayLike<number>) {
  const xa = matmulRef(x, A, d.T, d.r, d.inDim, { transB: true });
  const y = matmulRef(xa, B, d.T, d.outDim, d.r, { transB: true, alpha: d.s, C0: y0 });
  return { xa, y };
}

export function loraBackwardRef(
  d: LoraDims, x: ArrayLike<number>, A: ArrayLike<number>, B: ArrayLike<number>, dy: ArrayLike<number>,
  acc: { dx0?: ArrayLike<number>; dA0?: ArrayLike<number>; dB0?: ArrayLike<number> } = {},
) {
  const xa = matmulRef(x, A, d.T, d.r, d.inDim, { transB: true });
  const g = matmulRef(dy, B, d.T, d.r, d.outDim);
  return {
    dx: matmulRef(g, A, d.T, d.inDim, d.r, { alpha: d.s, C0: acc.dx0 }),
    dA: matmulRef(g, x, d.r, d.inDim, d.T, { transA: true, alpha: d.s, C0: acc.dA0 }),
    dB: matmulRef(dy, xa, d.outDim, d.r, d.T, { transA: true, alpha: d.s, C0: acc.dB0 }),
  };
}
