// float64 CPU reference: C[M, N] = alpha · op(A) · op(B) (+ C0 when accumulating).
export function matmulRef(
  A: ArrayLike<number>, B: ArrayLike<number>, M: number, N: number, K: number,
  o: { transA?: boolean; transB?: boolean; alpha?: number; C0?: ArrayLike<number> } = {},
): Float64Array {
  const C = new Float64Array(M * N);
  const alpha = o.alpha ?? 1;
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        const a = o.transA ? A[k * M + m] : A[m * K + k];
        const b = o.transB ? B[n * K + k] : B[k * N + n];
        s += a * b;
      }
      C[m * N + n] = alpha * s + (o.C0 ? o.C0[m * N + n] : 0);
    }
  return C;
}
