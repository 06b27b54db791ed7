// AdaLoRA's RankAllocator, as PEFT's (tuners/adalora/layer.py RankAllocator + AdaLoraModel.update_and_allocate),
// run after each optimizer step with the step number t (1-based, PEFT's global_step), T = total_step − tfinal:
//   t < T:  importance of every A, E, B element from the updated p and its (clipped) gradient,
//             ipt = |p ⊙ ∇p|,  ī ← β₁ī + (1−β₁)ipt,  ū ← β₂ū + (1−β₂)|ipt − ī|,  element score ī·ū
//           then, if the schedule says so, mask to the budget
//   t = T:  mask to the final budget (no importance update), then forget ī, ū
//   t > T:  re-apply the final pattern (E of the dropped ranks back to 0)
// budget b(t): b₀ = Σ ranks while t ≤ tinit (no masking); target_r·#modules once t > T; in between the cubic
//   int((b₀ − b_T)·(1 − (t − tinit)/(T − tinit))³ + b_T), masking when t % deltaT = 0.
// Masking: the score of rank k of a module is score(E_k) + mean_i score(A_k,i) + mean_o score(B_o,k); the threshold is
//   the (b₀ − b)-th smallest score over all modules (torch.kthvalue) and every rank scoring ≤ it gets E_k = 0.
// The averages and scores live on the GPU (kernels/adalora.ts); only the Σ ranks triplet scores come back to pick the
// threshold on the CPU, once per masking step.
import type { Gpu, Step } from '../gpu/runtime';
import { importanceUpdate, maskE, tripletScores, type Averages } from '../../kernels/adalora';
import { gradNormSquared } from '../../kernels/optim';
import type { AdapterParam } from './types';

export interface AllocatorSchedule {
  targetR: number;
  tinit: number;
  tfinal: number;
  deltaT: number;
  totalStep: number;
  beta1: number;
  beta2: number;
}

/** PEFT RankAllocator.budget_schedule(step). */
export function budgetSchedule(step: number, s: AllocatorSchedule, initBudget: number, targetBudget: number): { budget: number; mask: boolean } {
  if (step <= s.tinit) return { budget: initBudget, mask: false };
  if (step > s.totalStep - s.tfinal) return { budget: targetBudget, mask: true };
  const mul = 1 - (step - s.tinit) / (s.totalStep - s.tfinal - s.tinit);
  return { budget: Math.trunc((initBudget - targetBudget) * mul ** 3 + targetBudget), mask: step % s.deltaT === 0 };
}

/** torch.kthvalue(scores, k): the k-th smallest (1-based); −∞ when k < 1 (nothing to drop). */
export function kthSmallest(scores: ArrayLike<number>, k: number): number {
  if (k < 1) return -Infinity;
  if (k > scores.length) throw new Error(`AdaLoRA: cannot drop ${k} of ${scores.length} ranks`);
  return Float64Array.from(scores).sort()[k - 1];
}

/** What the allocator sees of one module: its three trainable tensors (grads present). */
export interface AllocatedModule {
  /** the module path as the adapter file names it */
  module: string;
  /** the rank_pattern key, "<module>.lora_E" */
  key: string;
  r: number;
  inDim: number;
  outDim: number;
  A: AdapterParam;
  E: AdapterParam;
  B: AdapterParam;
}

export interface AllocationRecord {
  step: number;
  budget: number;
  /** the schedule's mask flag (PEFT's budget_schedule) */
  mask: boolean;
  /** the pattern in force after this step (null before the first masking) */
  rankPattern: Record<string, boolean[]> | null;
}

const TENSORS = ['A', 'E', 'B'] as const;

export class RankAllocator {
  readonly initBudget: number;
  readonly targetBudget: number;
  private avgs: Record<(typeof TENSORS)[number], Averages>[];
  private offsets: number[];
  private scores: GPUBuffer; // [Σ r] triplet scores
  private mask: GPUBuffer; // [Σ r] 1 keep / 0 drop, the pattern in force
  private normSq: GPUBuffer; // [1] Σ‖g‖² over every trainable gradient, for the clip factor
  rankPattern: Record<string, boolean[]> | null = null;
  last: AllocationRecord | null = null;

  constructor(
    private gpu: Gpu,
    readonly modules: AllocatedModule[],
    readonly schedule: AllocatorSchedule,
    /** clip_grad_norm_'s max_norm of the run (PEFT scores the clipped gradients); 0 = none */
    private maxGradNorm: number,
    /** every trainable gradient of the run (the clip norm is over all of them) */
    private allGrads: { buffer: GPUBuffer; n: number }[],
    /** adapted layers, counting those pruned to rank 0 (no module, but in PEFT's target budget) */
    layerCount = modules.length,
  ) {
    this.initBudget = modules.reduce((a, m) => a + m.r, 0);
    this.targetBudget = schedule.targetR * layerCount;
    if (this.targetBudget > this.initBudget) throw new Error(`AdaLoRA: --target-r ${schedule.targetR} exceeds the ranks there are (${this.initBudget} over ${layerCount} layers)`);
    const zeros = (n: number, label: string) => gpu.buffer(n * 4, label, new Float32Array(n));
    this.avgs = modules.map((m) => {
      const pair = (t: (typeof TENSORS)[number]) => {
        const n = m[t].shape.reduce((a, b) => a * b, 1);
        return { ipt: zeros(n, `${m.key} ${t} ipt`), unc: zeros(n, `${m.key} ${t} unc`) };
      };
      return { A: pair('A'), E: pair('E'), B: pair('B') };
    });
    let off = 0;
    this.offsets = modules.map((m) => ((off += m.r), off - m.r));
    this.scores = gpu.buffer(Math.max(off, 1) * 4, 'adalora scores');
    this.mask = gpu.buffer(Math.max(off, 1) * 4, 'adalora mask', new Float32Array(Math.max(off, 1)).fill(1));
    this.normSq = gpu.buffer(4, 'adalora grad norm²');
  }

  /** T = total_step − tfinal: the step of the final allocation. */
  get finalStep(): number {
    return this.schedule.totalStep - this.schedule.tfinal;
  }

  private plan(step: number) {
    const { budget, mask } = budgetSchedule(step, this.schedule, this.initBudget, this.targetBudget);
    const T = this.finalStep;
    return { budget, mask, update: step < T, byScore: (step < T && mask) || step === T, reapply: step > T };
  }

  /** Recorded after the optimizer update (same Step): the importance averages and, when masking follows, the scores. */
  async record(step: Step, stepNo: number): Promise<void> {
    const { gpu } = this;
    const p = this.plan(stepNo);
    if (p.update) {
      await gradNormSquared(gpu, step, this.allGrads, this.normSq);
      const s = { beta1: this.schedule.beta1, beta2: this.schedule.beta2, maxGradNorm: this.maxGradNorm };
      for (const [i, m] of this.modules.entries())
        for (const t of TENSORS) {
          const n = m[t].shape.reduce((a, b) => a * b, 1);
          await importanceUpdate(gpu, step, { ...s, n }, m[t].buffer, m[t].grad!, this.normSq, this.avgs[i][t].ipt, this.avgs[i][t].unc);
        }
    }
    if (p.byScore)
      for (const [i, m] of this.modules.entries())
        await tripletScores(gpu, step, { r: m.r, inDim: m.inDim, outDim: m.outDim, offset: this.offsets[i] }, this.avgs[i].A, this.avgs[i].E, this.avgs[i].B, this.scores);
  }

  /** After the step was submitted: masks E by the scores (one readback) or re-applies the final pattern. */
  async allocate(stepNo: number): Promise<AllocationRecord> {
    const p = this.plan(stepNo);
    if (p.byScore) {
      const scores = await this.gpu.readF32(this.scores, this.initBudget);
      const threshold = kthSmallest(scores, this.initBudget - p.budget);
      this.rankPattern = {};
      for (const [i, m] of this.modules.entries())
        this.rankPattern[m.key] = Array.from(scores.subarray(this.offsets[i], this.offsets[i] + m.r), (s) => !(s <= threshold));
      this.uploadMask();
      if (stepNo === this.finalStep) this.resetAverages();
    }
    if (p.byScore || (p.reapply && this.rankPattern)) await this.applyMask();
    return (this.last = { step: stepNo, budget: p.budget, mask: p.mask, rankPattern: this.rankPattern });
  }

  private uploadMask() {
    const m = new Float32Array(Math.max(this.initBudget, 1)).fill(1);
    for (const [i, mod] of this.modules.entries()) this.rankPattern![mod.key].forEach((keep, k) => (m[this.offsets[i] + k] = keep ? 1 : 0));
    this.gpu.upload(this.mask, m);
  }

  private async applyMask() {
    const step = this.gpu.step('adalora mask');
    for (const [i, m] of this.modules.entries()) await maskE(this.gpu, step, { r: m.r, offset: this.offsets[i] }, this.mask, m.E.buffer);
    step.submit();
  }

  private resetAverages() {
    const step = this.gpu.step('adalora reset ipt');
    for (const a of this.avgs) for (const t of TENSORS) for (const b of [a[t].ipt, a[t].unc]) step.clear(b);
    step.submit();
  }

  /** ī, ū of every tensor and the pattern (resume). */
  async saveState(): Promise<{ json: Record<string, unknown>; tensors: Record<string, Float32Array> }> {
    const tensors: Record<string, Float32Array> = {};
    for (const [i, m] of this.modules.entries())
      for (const t of TENSORS) {
        const n = m[t].shape.reduce((a, b) => a * b, 1);
        tensors[`ipt.${m.module}.lora_${t}`] = await this.gpu.readF32(this.avgs[i][t].ipt, n);
        tensors[`unc.${m.module}.lora_${t}`] = await this.gpu.readF32(this.avgs[i][t].unc, n);
      }
    return { json: { rank_pattern: this.rankPattern }, tensors };
  }

  restoreState(json: Record<string, unknown>, tensors: Record<string, Float32Array>) {
    for (const [i, m] of this.modules.entries())
      for (const t of TENSORS)
        for (const which of ['ipt', 'unc'] as const) {
          const v = tensors[`${which}.${m.module}.lora_${t}`];
          if (!v || v.length !== m[t].shape.reduce((a, b) => a * b, 1)) throw new Error(`AdaLoRA checkpoint: no importance average ${which}.${m.module}.lora_${t} of this shape`);
          this.gpu.upload(this.avgs[i][t][which], v);
        }
    this.rankPattern = (json.rank_pattern as Record<string, boolean[]> | null) ?? null;
    if (this.rankPattern) this.uploadMask();
  }
}
