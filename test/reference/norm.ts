// float64 CPU references for RMSNorm and LayerNorm, forward and backward (dx only). x [rows, dim].

export function rmsnormRef(x: ArrayLike<number>, w: ArrayLike<number>, rows: number, dim: number, eps: number) {
  const y = new Float64Array(rows * dim);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[r * dim + i] ** 2;
    const s = 1 / Math.sqrt(ss / dim + eps);
    rstd[r] = s;
    for (let i = 0; i < dim; i++) y[r * dim + i] = w[i] * (x[r * dim + i] * s);
  }
  return { y, rstd };
}

/** Written out from the chain rule independently of the GPU's formula: ∂y_j/∂x_i = w_j·(δᵢⱼ·s − x_j·x_i·s³/dim). */
export function rmsnormBackwardRef(dy: ArrayLike<number>, x: ArrayLike<number>, w: ArrayLike<number>, rows: number, dim: number, eps: number) {
  const dx = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[r * dim + i] ** 2;
    const s = 1 / Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) {
      let g = 0;
      for (let j = 0; j < dim; j++) {
        const dyj = dy[r * dim + j] * w[j];
        g += dyj * ((i === j ? s : 0) - (x[r * dim + j] * x[r * dim + i] * s ** 3) / dim);
      }
      dx[r * dim + i] = g;
    }
  }
  return dx;
}

export function layernormRef(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, rows: number, dim: number, eps: number) {
  const y = new Float64Array(rows * dim);
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let i = 0; i < dim; i++) m += x[r * dim + i];
    m /= dim;
    let v = 0;
    for (let i = 0; i < dim; i++) v += (x[r * dim + i] - m) ** 2;
    const s = 1 / Math.sqrt(v / dim + eps);
    mean[r] = m;
    rstd[r] = s;
    for (let i = 0; i < dim; i++) y[r * dim + i] = (x[r * dim + i] - m) * s * w[i] + b[i];
  }
  return { y, mean, rstd };
}

/** Full Jacobian route: ∂xhat_j/∂x_i = s·(δᵢⱼ − 1/dim − xhat_j·xhat_i/dim). */
export function layernormBackwardRef(dy: ArrayLike<number>, x: ArrayLike<number>, w: ArrayLike<number>, rows: number, dim: number, eps: number) {
  const { y: _y, mean, rstd } = layernormRef(x, w, new Float64Array(dim), rows, dim, eps);
  const dx = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const s = rstd[r];
    const xhat = Float64Array.from({ length: dim }, (_, k) => (x[r * dim + k] - mean[r]) * s);
    const g = Float64Array.from({ length: dim }, (_, j) => dy[r * dim + j] * w[j]);
    for (let i = 0; i < dim; i++) {
      let acc = 0;
      for (let j = 0; j < dim; j++) acc += g[j] * s * ((i === j ? 1 : 0) - 1 / dim - (xhat[j] * xhat[i]) / dim);
      dx[r * dim + i] = acc;
    }
  }
  return dx;
}
