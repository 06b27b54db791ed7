// Float64 CPU reference of DoRA's row-norm / scale kernels (src/kernels/dora.wgsl).
//   n[o] = ‖W₀[o,:] + s·(B·A)[o,:]‖,  c = m/n;  forward y = c ⊙ z;  backward dz = c ⊙ dy, dm = Σ_t dy·z/n
// W₀ given as [out, in] values (already the 16-bit-rounded ones when testing packed weights).
export function doraNormRef(W: ArrayLike<number>, A: ArrayLike<number>, B: ArrayLike<number>, m: ArrayLike<number>, out: number, inDim: number, r: number, s: number) {
  const norm = new Float64Array(out);
  const c = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let acc = 0;
    for (let i = 0; i < inDim; i++) {
      let ba = 0;
      for (let k = 0; k < r; k++) ba += B[o * r + k] * A[k * inDim + i];
      const v = W[o * inDim + i] + s * ba;
      acc += v * v;
    }
    norm[o] = Math.sqrt(acc);
    c[o] = m[o] / norm[o];
  }
  return { norm, c };
}

/** y = c ⊙ z per column.  z [T, out] */
export function doraScaleRef(z: ArrayLike<number>, c: ArrayLike<number>, T: number, out: number): Float64Array {
  const y = new Float64Array(T * out);
  for (let t = 0; t < T; t++) for (let o = 0; o < out; o++) y[t * out + o] = c[o] * z[t * out + o];
  return y;
}

export function doraBackwardRef(dy: ArrayLike<number>, z: ArrayLike<number>, norm: ArrayLike<number>, c: ArrayLike<number>, T: number, out: number) {
  const dz = doraScaleRef(dy, c, T, out);
  const dm = new Float64Array(out);
  for (let t = 0; t < T; t++) for (let o = 0; o < out; o++) dm[o] += (dy[t * out + o] * z[t * out + o]) / norm[o];
  return { dz, dm };
}
