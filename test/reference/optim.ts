// float64 reference of torch.nn.utils.clip_grad_norm_ followed by torch.optim.AdamW.step() over a list of
// parameter tensors (one global norm across all of them).

export interface AdamwRefState {
  params: Float64Array[];
  m: Float64Array[];
  v: Float64Array[];
  step: number;
}

export interface AdamwRefHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  maxGradNorm: number;
  gradScale?: number;
}

export function adamwRefInit(params: ArrayLike<number>[]): AdamwRefState {
  return {
    params: params.map((p) => Float64Array.from(p)),
    m: params.map((p) => new Float64Array(p.length)),
    v: params.map((p) => new Float64Array(p.length)),
    step: 0,
  };
}

/** One optimizer step, in place on `state`. Returns the clip coefficient used. */
export function adamwRefStep(state: AdamwRefState, grads: ArrayLike<number>[], h: AdamwRefHyper): number {
  const scale = h.gradScale ?? 1;
  // loss scaled by gradScale before backward: the gradients clip_grad_norm_ sees are grad·gradScale
  const g = grads.map((gr) => Float64Array.from(gr, (x) => x * scale));
  let clip = 1;
  if (h.maxGradNorm > 0) {
    let sq = 0;
    for (const t of g) for (const x of t) sq += x * x;
    clip = Math.min(1, h.maxGradNorm / (Math.sqrt(sq) + 1e-6));
    for (const t of g) for (let i = 0; i < t.length; i++) t[i] *= clip;
  }
  state.step++;
  const bc1 = 1 - h.beta1 ** state.step;
  const bc2 = 1 - h.beta2 ** state.step;
  g.forEach((gt, k) => {
    const p = state.params[k], m = state.m[k], v = state.v[k];
    for (let i = 0; i < p.length; i++) {
      p[i] *= 1 - h.lr * h.weightDecay;
      m[i] = h.beta1 * m[i] + (1 - h.beta1) * gt[i];
      v[i] = h.beta2 * v[i] + (1 - h.beta2) * gt[i] * gt[i];
      p[i] -= (h.lr / bc1) * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + h.eps);
    }
  });
  return clip;
}
