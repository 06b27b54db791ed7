// AdamW over the adapter's trainable parameters, as torch.optim.AdamW (decoupled weight decay, bias
// correction) after torch.nn.utils.clip_grad_norm_ over ALL trainable gradients (one global norm).
// Parameters are grouped (AdapterParam.group, e.g. LoRA+'s 'A'/'B'); each group may scale the base
// learning rate and set its own weight decay. The per-step hyper-parameters (lr, step count) live in one
// small storage buffer per group, written with gpu.upload before the step that uses them is submitted
// (never a content-cached uniform: they change every step).
import type { Gpu, Step } from '../gpu/runtime';
import type { AdapterParam } from '../adapters/types';
import { adamwHyper, adamwHyperBytes, adamwMany, gradNormSquared } from '../../kernels/optim';

export interface AdamWOptions {
  beta1?: number; // 0.9
  beta2?: number; // 0.999
  eps?: number; // 1e-8
  weightDecay?: number; // 0
  /** global gradient-norm clipping threshold; 0 = no clipping */
  maxGradNorm?: number;
  /** per-group overrides: lr multiplier and weight decay (absent = 1× lr, the global weight decay) */
  groups?: Record<string, { lrScale?: number; weightDecay?: number; eps?: number; rule?: 'adamw' | 'lorafa' }>;
  /**
   * Recorded after the global grad norm and before the updates: a method may transform its gradients in place
   * here (LoRA-FA projects B's gradient through (A·Aᵀ)⁻¹/s²; the clip factor, linear, is applied after).
   */
  beforeUpdate?: (gpu: Gpu, step: Step) => Promise<void>;
}

interface Slot {
  param: AdapterParam;
  n: number;
  m: GPUBuffer; // first moment  [n]
  v: GPUBuffer; // second moment [n]
  group: string;
}

const slotKey = (s: Slot) => (s.param as AdapterParam & { key?: string }).key ?? s.param.name;

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly maxGradNorm: number;
  private slots: Slot[] = [];
  private hyper = new Map<string, GPUBuffer>(); // group → hyper buffer
  /** Σ‖g‖² over every trainable tensor, f32[1]; valid after a recorded step (for logging the grad norm) */
  readonly normSq: GPUBuffer;
  /** optimizer steps taken (the bias-correction counter) */
  t = 0;

  constructor(
    private gpu: Gpu,
    params: AdapterParam[],
    private opts: AdamWOptions = {},
  ) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    this.maxGradNorm = opts.maxGradNorm ?? 0;
    for (const p of params) {
      if (!p.grad) continue; // frozen (e.g. LoRA-FA's A, VeRA's projections)
      const n = p.shape.reduce((a, b) => a * b, 1);
      const zeros = new Float32Array(n);
      const group = p.group ?? 'default';
      this.slots.push({ param: p, n, group, m: gpu.buffer(n * 4, `adam m ${p.name}`, zeros), v: gpu.buffer(n * 4, `adam v ${p.name}`, zeros) });
      if (!this.hyper.has(group)) this.hyper.set(group, gpu.buffer(adamwHyperBytes, `adam hyper ${group}`));
    }
    this.normSq = gpu.buffer(4, 'grad norm²', new Float32Array(1));
  }

  /** The moments, by the params' keys (NamedParam.key, else name): `m.<key>`, `v.<key>` (weblora checkpoints). */
  async exportState(): Promise<Record<string, Float32Array>> {
    const out: Record<string, Float32Array> = {};
    for (const s of this.slots) {
      out[`m.${slotKey(s)}`] = await this.gpu.readF32(s.m, s.n);
      out[`v.${slotKey(s)}`] = await this.gpu.readF32(s.v, s.n);
    }
    return out;
  }

  /** Restores moments saved by exportState and the step counter t; every trainable tensor must be present. */
  importState(t: number, state: Record<string, Float32Array>): void {
    for (const s of this.slots)
      for (const which of ['m', 'v'] as const) {
        const v = state[`${which}.${slotKey(s)}`];
        if (!v) throw new Error(`the checkpoint has no optimizer state for ${slotKey(s)}`);
        if (v.length !== s.n) throw new Error(`the checkpoint's optimizer state for ${slotKey(s)} has ${v.length} values, expected ${s.n}`);
        this.gpu.upload(s[which], v);
      }
    this.t = t;
  }

  /** number of trainable scalars */
  get size(): number {
    return this.slots.reduce((a, s) => a + s.n, 0);
  }

  /** the learning rate group `group` runs at when the base lr is `lr` */
  groupLr(group: string, lr: number): number {
    return lr * (this.opts.groups?.[group]?.lrScale ?? 1);
  }

  /**
   * Records one optimizer step at base learning rate `lr` into `step` (grad norm, clip, AdamW update of every
   * trainable parameter). The hyper buffers are uploaded now, so `step` must be submitted after this call and
   * before the next record().
   */
  async record(step: Step, lr: number, gradScale = 1): Promise<void> {
    this.t += 1;
    for (const [group, buf] of this.hyper) {
      const g = this.opts.groups?.[group];
      let wd = g?.weightDecay ?? this.weightDecay;
      let glr = this.groupLr(group, lr);
      let eps = g?.eps ?? this.eps;
      if (g?.rule === 'lorafa') {
        // PEFT's LoRA-FA update: p ← (p − lr·(√bc2/bc1)·m/(√v + eps))·(1 − lr·wd), decay AFTER the step and eps
        // outside the bias correction. The same, exactly, as the AdamW kernel's p·(1 − lr'·wd') − (lr'/bc1)·m/(√v/√bc2 + eps')
        // with lr' = lr·(1 − lr·wd), lr'·wd' = lr·wd, eps' = eps/√bc2.
        const decay = glr * wd;
        const lrEff = glr * (1 - decay);
        wd = lrEff === 0 ? 0 : decay / lrEff;
        glr = lrEff;
        eps = eps / Math.sqrt(1 - Math.pow(this.beta2, this.t));
      }
      const h = adamwHyper({
        lr: glr,
        beta1: this.beta1,
        beta2: this.beta2,
        eps,
        weightDecay: wd,
        step: this.t,
        maxGradNorm: this.maxGradNorm,
        gradScale,
      });
      this.gpu.upload(buf, h);
    }
    // the global norm (always computed: cheap next to the step, and the trainer may log it)
    await gradNormSquared(this.gpu, step, this.slots.map((s) => ({ buffer: s.param.grad!, n: s.n })), this.normSq);
    if (this.opts.beforeUpdate) await this.opts.beforeUpdate(this.gpu, step);
    // one adamwMany per group (it pairs tensors into one dispatch where it can: LoRA has many small ones)
    for (const [group, hyper] of this.hyper) {
      const tensors = this.slots.filter((s) => s.group === group).map((s) => ({ n: s.n, param: s.param.buffer, grad: s.param.grad!, m: s.m, v: s.v }));
      await adamwMany(this.gpu, step, tensors, hyper, this.normSq);
    }
  }
}
