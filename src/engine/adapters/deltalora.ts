// Delta-LoRA (arXiv 2309.02411; not in PEFT): --method deltalora, --delta-start K (500), --delta-lambda λ (2).
// LoRA with dropout off (WebLoRA's LoRA has none) whose "frozen" weight W learns as well: after optimizer step n > K
//   W_n = W_{n−1} + λ·s·(B_n·A_n − B_{n−1}·A_{n−1})          (A_n, B_n: the values after step n; steps count from 1)
// W gets no gradient and no optimizer state: the gradients of A and B are LoRA's, through s·B·A only.
//
// Where W lives. The updates telescope: for every n ≥ K,  W_n = W₀ + λ·s·(B_n·A_n − B_K·A_K).  So the effective weight
// IS updated after every step past K, exactly as the in-place rule says, but it is held as the untouched W₀ plus a
// rank-r snapshot (A_K, B_K) copied on the GPU right after step K's optimizer update:
//   forward   y  = x·W₀ᵀ + (1+λ)·s·(x·Aᵀ)·Bᵀ − λ·s·(x·A_Kᵀ)·B_Kᵀ
//   backward  dx = dy·W₀ + (1+λ)·s·(dy·B)·A − λ·s·(dy·B_K)·A_K        (dx sees W_n + s·B·A, as the in-place model)
//             dA = s·(dy·B)ᵀ·x,   dB = s·dyᵀ·(x·Aᵀ)                     (LoRA's: no gradient through W)
// Why not add into W₀ in place: W₀ is kept as bf16/f16 when the checkpoint is 16-bit, and one step's λ·s·Δ(BA) is
// about lr·|BA|, mostly far below half an ulp of W (2⁻⁹ relative in bf16): it would round away, step after step.
// An f32 copy of every adapted W would fix that at the cost of a full weight per layer. The snapshot is exact in f32
// (no accumulated rounding at all), costs 2·r·(in + out) floats (+ 2·T·r scratch: LoraModule's own pair is private),
// and two skinny extra matmuls in forward and in backward.
//
// Export, by the same identity: W_T + s·B_T·A_T = W₀ + s·[(1+λ)·B_T, −λ·B_K]·[A_T; A_K], a plain PEFT `LORA` adapter
// of rank 2r with α' = 2α (rsLoRA: √2·α) so that s is unchanged. Applied to the original base it IS the trained
// model (PeftModel.from_pretrained, `weblora eval --adapter`), and `weblora merge` of it writes W_T + s·B_T·A_T.
//
// Step indexing, "after each optimizer step past --delta-start": step n (1-based, as logged) moves (A,B)_{n−1} to
// (A,B)_n and W is updated after it iff n > K; the first K steps are plain LoRA. (The paper's Algorithm 1, as we
// recall it, loops t = 0..T−1 with "if t > K", one more plain step; not verified against its text: we follow the issue.)
// "Clamped to the run": K = min(--delta-start, steps − 1), so a run shorter than the start (the default 500 against a
// 100-step run) still updates W after its last step at least; an explicit start inside the run is kept as given.
// K = 0 snapshots the initial (A, B) (B = 0) before the first step.
import type { Gpu, Step } from '../gpu/runtime';
import { loraForward } from '../../kernels/linear';
import { matmul } from '../../kernels/matmul';
import { memorySource, type FileSource } from '../io/files';
import { adapterScale, readLoraAdapter, serializeLoraAdapter, type LoraLayerWeights } from '../io/peft';
import { LoraModule, type LoraOptions } from './lora';
import { countLoraParams, isLoraConfig, loadLoraRun, newLoraRun, type LoraMaker, type LoraRun } from './lora-run';
import type { MethodContext, MethodRun, MethodSpec } from './method';
import type { LinearInfo } from './types';

export const DELTA_START_DEFAULT = 500;
export const DELTA_LAMBDA_DEFAULT = 2;

export class DeltaLoraModule extends LoraModule {
  readonly AK: GPUBuffer; // A_K [r, in]: A when the updates began
  readonly BK: GPUBuffer; // B_K [out, r]
  /** true once the snapshot is taken: forward and backward carry λ·s·(B·A − B_K·A_K) */
  active = false;
  private xA: GPUBuffer; // x·Aᵀ [maxTokens, r], saved by forward for dB
  private tmp: GPUBuffer; // [maxTokens, r]: x·A_Kᵀ in forward; dy·B, then dy·B_K in backward

  constructor(gpu: Gpu, layer: LinearInfo, maxTokens: number, opts: LoraOptions, readonly lambda: number) {
    super(gpu, layer, maxTokens, opts);
    const { inDim, outDim } = layer;
    this.AK = gpu.buffer(this.r * inDim * 4, `${layer.name}.delta A_K`);
    this.BK = gpu.buffer(outDim * this.r * 4, `${layer.name}.delta B_K`);
    this.xA = gpu.buffer(maxTokens * this.r * 4, `${layer.name}.delta xA`);
    this.tmp = gpu.buffer(maxTokens * this.r * 4, `${layer.name}.delta tmp`);
  }

  /** Records (A_K, B_K) ← (A, B) into `step` (after the optimizer's update of step K); the updates begin. */
  snapshot(step: Step) {
    step.copy(this.A, 0, this.AK, 0, this.r * this.layer.inDim * 4);
    step.copy(this.B, 0, this.BK, 0, this.layer.outDim * this.r * 4);
    this.active = true;
  }

  async getSnapshot(): Promise<{ AK: Float32Array; BK: Float32Array }> {
    const { inDim, outDim } = this.layer;
    return { AK: await this.gpu.readF32(this.AK, this.r * inDim), BK: await this.gpu.readF32(this.BK, outDim * this.r) };
  }

  setSnapshot(AK: Float32Array, BK: Float32Array) {
    const { inDim, outDim } = this.layer;
    if (AK.length !== this.r * inDim || BK.length !== outDim * this.r) throw new Error(`${this.layer.name}: Delta-LoRA snapshot sizes do not match r=${this.r}`);
    this.gpu.upload(this.AK, AK);
    this.gpu.upload(this.BK, BK);
    this.active = true;
  }

  /** s·B·A's factor on the trained path: 1+λ once W carries λ·s·B·A too. */
  private get pathScale() {
    return this.active ? (1 + this.lambda) * this.scale : this.scale;
  }

  async forward(gpu: Gpu, step: Step, x: GPUBuffer, y: GPUBuffer, tokens: number): Promise<void> {
    const sh = { tokens, inDim: this.layer.inDim, outDim: this.layer.outDim, rank: this.r };
    // y [T, out] += c·(x·Aᵀ)·Bᵀ, xa = x·Aᵀ [T, r] saved;  c = (1+λ)·s once active, else s (plain LoRA)
    await loraForward(gpu, step, { ...sh, scale: this.pathScale }, x, this.A, this.B, this.xA, y);
    // y += −λ·s·(x·A_Kᵀ)·B_Kᵀ: W's share of the snapshot
    if (this.active) await loraForward(gpu, step, { ...sh, scale: -this.lambda * this.scale }, x, this.AK, this.BK, this.tmp, y);
  }

  async backward(gpu: Gpu, step: Step, x: GPUBuffer, dy: GPUBuffer, dx: GPUBuffer, tokens: number, accumulate: boolean): Promise<GPUBuffer> {
    const { inDim, outDim } = this.layer;
    const T = tokens, r = this.r, s = this.scale;
    const g = this.tmp;
    // g [T, r] = dy [T, out] · B [out, r]
    await matmul(gpu, step, { M: T, N: r, K: outDim }, dy, this.B, g);
    // dx [T, in] += c · g · A
    await matmul(gpu, step, { M: T, N: inDim, K: r, accumulate: true, alpha: this.pathScale }, g, this.A, dx);
    // dA [r, in] (+)= s · gᵀ · x;   dB [out, r] (+)= s · dyᵀ · xa      (LoRA's gradients: W is not differentiated)
    await matmul(gpu, step, { M: r, N: inDim, K: T, transA: true, accumulate, alpha: s }, g, x, this.gradA);
    await matmul(gpu, step, { M: outDim, N: r, K: T, transA: true, accumulate, alpha: s }, dy, this.xA, this.gradB);
    if (this.active) {
      // dx += −λ·s · (dy·B_K) · A_K     (g is free again: dA has consumed it)
      await matmul(gpu, step, { M: T, N: r, K: outDim }, dy, this.BK, g);
      await matmul(gpu, step, { M: T, N: inDim, K: r, accumulate: true, alpha: -this.lambda * s }, g, this.AK, dx);
    }
    return dy;
  }

  /** The rank-2r LoRA equal to this layer's W_T + s·B·A − W₀ (same s): A' = [A; A_K], B' = [(1+λ)·B, −λ·B_K]. */
  async exportLayer(): Promise<LoraLayerWeights> {
    const { inDim, outDim } = this.layer;
    const r = this.r;
    const { A, B } = await this.getWeights();
    // not begun (a run stopped before step K): W = W₀, so the snapshot half is zero
    const { AK, BK } = this.active ? await this.getSnapshot() : { AK: new Float32Array(r * inDim), BK: new Float32Array(outDim * r) };
    const c = this.active ? 1 + this.lambda : 1;
    const A2 = new Float32Array(2 * r * inDim); // [2r, in]
    A2.set(A, 0);
    A2.set(AK, r * inDim);
    const B2 = new Float32Array(outDim * 2 * r); // [out, 2r]
    for (let o = 0; o < outDim; o++)
      for (let k = 0; k < r; k++) {
        B2[o * 2 * r + k] = c * B[o * r + k];
        B2[o * 2 * r + r + k] = -this.lambda * BK[o * r + k];
      }
    return { module: this.layer.name, r: 2 * r, inDim, outDim, A: A2, B: B2 };
  }
}

/** K = min(start, steps − 1): the updates begin inside the run (see the top of the file). */
export function deltaStartFor(start: number, steps: number): number {
  return steps >= 1 ? Math.min(start, steps - 1) : start;
}

/** Wraps a LoRA run of DeltaLoraModules: the W update after each step past K, the rank-2r export, resume state. */
function deltaRun(ctx: MethodContext, base: LoraRun): MethodRun {
  const lambda = ctx.options['delta-lambda'] as number;
  const given = ctx.options['delta-start'] as number;
  let K = deltaStartFor(given, ctx.common.steps);
  const modules = base.loraModules as Map<string, DeltaLoraModule>;
  const all = [...modules.values()];
  const active = () => all.length > 0 && all[0].active;
  if (K === 0) {
    // the updates start after step 1: the snapshot is the adapter's starting point
    const step = ctx.gpu.step('delta-lora snapshot');
    for (const m of all) m.snapshot(step);
    step.submit();
  }
  const r2 = 2 * base.config.r;
  // α' with α'/(2r) = α/r (rsLoRA: α'/√(2r) = α/√r): the same s on twice the rank
  const config = { ...base.config, r: r2, alpha: base.config.rslora ? base.config.alpha * Math.SQRT2 : 2 * base.config.alpha };
  const clamp = K !== given ? ` (--delta-start ${given} clamped to the ${ctx.common.steps}-step run)` : '';
  return {
    ...base,
    describe: `${base.describe}; W += λ·s·Δ(B·A) after every step past ${K}${clamp}, λ = ${lambda}; exported as rank ${r2}`,
    async afterOptimizer(step: Step, stepNo: number) {
      if (active()) return;
      if (stepNo === K) for (const m of all) m.snapshot(step);
      else if (stepNo > K) throw new Error(`Delta-LoRA: step ${stepNo} is past the start ${K} but no snapshot of A, B was taken (resumed without its state?)`);
    },
    async exportAdapter() {
      const layers = new Map<string, LoraLayerWeights>();
      for (const [name, m] of modules) layers.set(name, await m.exportLayer());
      return serializeLoraAdapter({ config, layers });
    },
    // the exact rank-r A, B (the PEFT files hold the rank-2r export, whose B half is (1+λ)·B rounded) and the snapshot
    async saveState() {
      const tensors: Record<string, Float32Array> = {};
      for (const [name, m] of modules) {
        const { A, B } = await m.getWeights();
        tensors[`${name}.A`] = A;
        tensors[`${name}.B`] = B;
        if (!m.active) continue;
        const { AK, BK } = await m.getSnapshot();
        tensors[`${name}.A_K`] = AK;
        tensors[`${name}.B_K`] = BK;
      }
      return { json: { delta_start: K, delta_lambda: lambda, delta_active: active() }, tensors };
    },
    async restoreState(json, tensors) {
      // a changed λ would break the telescoping sum the snapshot stands for
      if (json.delta_lambda !== lambda) throw new Error(`Delta-LoRA: the checkpoint ran with --delta-lambda ${String(json.delta_lambda)}, this run has ${lambda}`);
      // once begun, the updates continue from the snapshot whatever --steps now is (K stays); else K is this run's
      if (json.delta_active) K = json.delta_start as number;
      for (const [name, m] of modules) {
        const [A, B, AK, BK] = ['A', 'B', 'A_K', 'B_K'].map((k) => tensors[`${name}.${k}`]);
        if (!A || !B) throw new Error(`Delta-LoRA: the checkpoint has no A, B for ${name}`);
        m.setWeights(A, B);
        if (!json.delta_active) {
          m.active = false; // not begun at the checkpoint: afterOptimizer takes it at step K (or says it was missed)
          continue;
        }
        if (!AK || !BK) throw new Error(`Delta-LoRA: the checkpoint has no snapshot A_K, B_K for ${name}`);
        m.setSnapshot(AK, BK);
      }
    },
  };
}

/**
 * A checkpoint's adapter files (resume) hold the rank-2r export: back to rank r, A = A'[:r], B = B'[:, :r]/(1+λ)
 * (restoreState then sets the exact A, B and the snapshot). r and α come from the run's settings, checked against
 * the file's 2r and α'.
 */
async function rankRFromExport(ctx: MethodContext, files: FileSource, where: string): Promise<FileSource> {
  const ad = await readLoraAdapter(files, where);
  const { r, alpha, rslora } = ctx.common;
  const lambda = ctx.options['delta-lambda'] as number;
  if (ad.config.r !== 2 * r || Math.abs(adapterScale(ad.config) - adapterScale({ r, alpha, rslora })) > 1e-6 * Math.abs(adapterScale(ad.config)))
    throw new Error(`${where}: a Delta-LoRA checkpoint of r=${r}, alpha=${alpha} has rank ${2 * r} and the same scale; this one has r=${ad.config.r}, alpha=${ad.config.alpha}`);
  const layers = new Map<string, LoraLayerWeights>();
  for (const [name, w] of ad.layers) {
    const A = w.A.slice(0, r * w.inDim);
    const B = new Float32Array(w.outDim * r);
    const begun = w.B.some((v, i) => i % (2 * r) >= r && v !== 0);
    for (let o = 0; o < w.outDim; o++) for (let k = 0; k < r; k++) B[o * r + k] = w.B[o * 2 * r + k] / (begun ? 1 + lambda : 1);
    layers.set(name, { module: name, r, inDim: w.inDim, outDim: w.outDim, A, B });
  }
  return memorySource(serializeLoraAdapter({ config: { ...ad.config, r, alpha }, layers }));
}

const maker = (lambda: number): LoraMaker => (gpu, layer, maxTokens, opts) => new DeltaLoraModule(gpu, layer, maxTokens, opts, lambda);

export const deltaloraMethod: MethodSpec = {
  name: 'deltalora',
  title: 'Delta-LoRA',
  summary: 'LoRA whose base weights also move: after each step past --delta-start, W += λ·s·(change of B·A); saved as an exact rank-2r LoRA.',
  options: {
    'delta-start': { kind: 'int', default: DELTA_START_DEFAULT, min: 0, help: 'plain LoRA steps before W starts to follow B·A (clamped to steps − 1)' },
    'delta-lambda': { kind: 'number', default: DELTA_LAMBDA_DEFAULT, min: 0, help: "λ: W's update is λ·s times the change of B·A" },
  },
  rejects: ['lora-dropout', 'dropout'], // the paper removes LoRA's dropout (W's update must see the full B·A·x)
  countParams: (layers, c) => countLoraParams(layers, c.r),
  create: async (ctx) => deltaRun(ctx, await newLoraRun(ctx, maker(ctx.options['delta-lambda'] as number), 'Delta-LoRA')),
  // a PEFT LoRA file: the starting (A, B) for --init-adapter (any rank), or a Delta-LoRA checkpoint for --resume.
  // Never picked for eval: the registry takes the first method accepting a LORA config, plain LoRA, which is exact here.
  matchesConfig: (c) => isLoraConfig(c, false),
  load: async (ctx, files, where) => {
    const src = ctx.resume ? await rankRFromExport(ctx, files, where) : files; // a checkpoint's file is the rank-2r export
    return deltaRun(ctx, await loadLoraRun(ctx, src, where, maker(ctx.options['delta-lambda'] as number), 'Delta-LoRA'));
  },
};
