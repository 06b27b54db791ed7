// Central finite differences in float64, for checking every backward against its forward reference.
// For a forward f: x ↦ y and an upstream gradient dy, the backward should equal ∇ₓ Σ dy·f(x); this
// estimates that gradient one coordinate at a time: (L(x + h·eᵢ) − L(x − h·eᵢ)) / 2h.

export function fdGrad(loss: (x: Float64Array) => number, x0: ArrayLike<number>, h = 1e-6): Float64Array {
  const x = Float64Array.from(x0);
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const xi = x[i];
    x[i] = xi + h;
    const lp = loss(x);
    x[i] = xi - h;
    const lm = loss(x);
    x[i] = xi;
    g[i] = (lp - lm) / (2 * h);
  }
  return g;
}

/** Σ a·b, the scalar whose gradient a backward with upstream gradient `a` computes. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** f64 copy of an f32 array: references always compute in f64 from the very values the GPU saw. */
export const f64 = (a: ArrayLike<number>) => Float64Array.from(a);
