// LoRA-FA (arXiv 2308.03303) with PEFT's create_lorafa_optimizer: A stays frozen at its initialisation, only B
// trains, and B's (clipped) gradient is projected before AdamW-like moments:
//   g̃ = (1/s²) · g · (A·Aᵀ + 1e-8·I)⁻¹          g, g̃ [out, r];  A [r, in] frozen → the r×r inverse is computed once
//   m, v from g̃;  B ← (B − lr·(√(1−β₂ᵗ)/(1−β₁ᵗ))·m/(√v + 1e-6))·(1 − lr·wd)        (optimizer rule 'lorafa')
// The projection is linear, so clipping (computed on the raw gradient) commutes with it.
import type { Gpu, Step } from '../gpu/runtime';
import { matmul } from '../../kernels/matmul';
import { LoraModule } from './lora';
import type { AdapterParam } from './types';
import type { MethodContext, MethodSpec } from './method';
import { isLoraConfig, loadLoraRun, newLoraRun, type LoraMaker, type LoraRun } from './lora-run';

export const LORAFA_EPS = 1e-6;

export class LoraFaModule extends LoraModule {
  /** (1/s²)·(A·Aᵀ + 1e-8 I)⁻¹ [r, r], set by prepare() */
  private proj: GPUBuffer | null = null;
  private projected: GPUBuffer | null = null;

  params(): AdapterParam[] {
    return super.params().map((p) => (p.group === 'A' ? { ...p, grad: null } : { ...p, group: 'lorafa' }));
  }

  /** Reads the (frozen) A back once and uploads the scaled inverse of A·Aᵀ + 1e-8·I (float64 Gauss–Jordan). */
  async prepare(gpu: Gpu): Promise<void> {
    const { A } = await this.getWeights();
    const r = this.r, n = this.layer.inDim;
    const M = new Float64Array(r * 2 * r); // [AAᵀ + εI | I]
    for (let i = 0; i < r; i++)
      for (let j = 0; j < r; j++) {
        let acc = 0;
        for (let k = 0; k < n; k++) acc += A[i * n + k] * A[j * n + k];
        M[i * 2 * r + j] = acc + (i === j ? 1e-8 : 0);
        M[i * 2 * r + r + j] = i === j ? 1 : 0;
      }
    const w = 2 * r;
    for (let c = 0; c < r; c++) {
      let piv = c;
      for (let i = c + 1; i < r; i++) if (Math.abs(M[i * w + c]) > Math.abs(M[piv * w + c])) piv = i;
      if (M[piv * w + c] === 0) throw new Error(`${this.layer.name}: A·Aᵀ is singular (LoRA-FA needs a full-rank A)`);
      for (let k = 0; k < w; k++) [M[c * w + k], M[piv * w + k]] = [M[piv * w + k], M[c * w + k]];
      const d = M[c * w + c];
      for (let k = 0; k < w; k++) M[c * w + k] /= d;
      for (let i = 0; i < r; i++) {
        if (i === c) continue;
        const f = M[i * w + c];
        if (f) for (let k = 0; k < w; k++) M[i * w + k] -= f * M[c * w + k];
      }
    }
    const inv = new Float32Array(r * r);
    const s2 = this.scale * this.scale;
    for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) inv[i * r + j] = M[i * w + r + j] / s2;
    this.proj ??= gpu.buffer(r * r * 4, `${this.layer.name}.lorafa proj`);
    this.projected ??= gpu.buffer(this.layer.outDim * r * 4, `${this.layer.name}.lorafa g̃`);
    gpu.upload(this.proj, inv);
  }

  /** gradB [out, r] ← gradB · proj [r, r]   (through a scratch buffer, then copied back) */
  async project(gpu: Gpu, step: Step): Promise<void> {
    if (!this.proj || !this.projected) throw new Error('LoRA-FA: prepare() was not called');
    const { outDim } = this.layer;
    await matmul(gpu, step, { M: outDim, N: this.r, K: this.r }, this.gradB, this.proj, this.projected);
    step.copy(this.projected, 0, this.gradB, 0, outDim * this.r * 4);
  }
}

/** The optimizer options LoRA-FA adds: the 'lorafa' group rule and the projection hook over every module. */
export function loraFaOptimizer(modules: Iterable<LoraFaModule>) {
  const list = [...modules];
  return {
    groups: { lorafa: { rule: 'lorafa' as const, eps: LORAFA_EPS } },
    beforeUpdate: async (gpu: Gpu, step: Step) => {
      for (const m of list) await m.project(gpu, step);
    },
  };
}

// ---------- the method ----------

const makeLoraFa: LoraMaker = (gpu, layer, maxTokens, opts) => new LoraFaModule(gpu, layer, maxTokens, opts);

async function withProjection(ctx: MethodContext, run: LoraRun): Promise<LoraRun> {
  const fa = [...run.loraModules.values()] as LoraFaModule[];
  for (const m of fa) await m.prepare(ctx.gpu);
  return { ...run, params: run.params.filter((p) => p.grad), optimizer: loraFaOptimizer(fa), describe: `${run.describe}; A frozen` };
}

export const lorafaMethod: MethodSpec = {
  name: 'lorafa',
  title: 'LoRA-FA',
  summary: "LoRA with A frozen at its random init; only B trains, with PEFT's LoRA-FA optimizer (B's gradient projected through (A·Aᵀ)⁻¹).",
  options: {},
  countParams: (layers, c) => layers.reduce((a, l) => a + c.r * l.outDim, 0),
  create: async (ctx) => withProjection(ctx, await newLoraRun(ctx, makeLoraFa, 'LoRA-FA')),
  matchesConfig: (c) => isLoraConfig(c, false),
  load: async (ctx, files, where) => withProjection(ctx, await loadLoraRun(ctx, files, where, makeLoraFa, 'LoRA-FA')),
};
