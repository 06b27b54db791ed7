// LoRA (arXiv 2106.09685) and rsLoRA on one frozen linear layer, as PEFT's lora.Linear:
//   y = x·W₀ᵀ + s·(x·Aᵀ)·Bᵀ,   A [r, in], B [out, r],   s = α/r  (rsLoRA: α/√r)
// Init as PEFT's init_lora_weights=True: A ~ kaiming_uniform(a=√5) = U(±1/√in), B = 0, so training starts at W₀.
// lora_dropout p (default 0): while training the low-rank path sees dropout(x), the base path x (kernels/dropout.ts).
import type { Gpu, Step } from '../gpu/runtime';
import { loraBackward, loraForward } from '../../kernels/linear';
import { DropoutMask, dropoutStream, loraDropoutBackward, loraDropoutForward } from '../../kernels/dropout';
import type { AdapterFactory, AdapterModule, AdapterParam, LinearInfo } from './types';
import type { LoraAdapter, LoraLayerWeights } from '../io/peft';
import { mulberry32 } from '../util/random';
import type { MethodSpec } from './method';
import { adapterScratch } from './scratch';
import { countLoraParams, isLoraConfig, loadLoraRun, makeLora, newLoraRun } from './lora-run';

export interface LoraOptions {
  r: number;
  alpha: number;
  /** scale α/√r instead of α/r */
  rslora?: boolean;
  /** seed of A's init; each layer mixes in a hash of its name so layers differ (and of its dropout masks) */
  seed?: number;
  /** PEFT's lora_dropout: p of the dropout on the low-rank path's input in training forwards (0 or absent: none) */
  dropout?: number;
}

export function loraScale(o: Pick<LoraOptions, 'r' | 'alpha' | 'rslora'>): number {
  return o.rslora ? o.alpha / Math.sqrt(o.r) : o.alpha / o.r;
}

/** Seeded uniform [0, 1) generator used for initialisation (mulberry32). */
export const seededRandom = mulberry32;

/** The layer's dropout (null when p is 0): its masks are drawn from (seed, layer name, micro-batch). */
export function dropoutFor(gpu: Gpu, layer: LinearInfo, opts: Pick<LoraOptions, 'dropout' | 'seed'>): DropoutMask | null {
  const p = opts.dropout ?? 0;
  return p > 0 ? new DropoutMask(gpu, p, dropoutStream(opts.seed ?? 0, layer.name), layer.name) : null;
}

function hashString(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

export class LoraModule implements AdapterModule {
  readonly r: number;
  readonly scale: number;
  readonly A: GPUBuffer; // [r, in]
  readonly B: GPUBuffer; // [out, r]
  readonly gradA: GPUBuffer;
  readonly gradB: GPUBuffer;
  /** x·Aᵀ saved by forward for dB in backward: [maxTokens, r] */
  private xa: GPUBuffer;
  /** lora_dropout's masks (null: p = 0) */
  readonly drop: DropoutMask | null;
  /** the last forward dropped x (training): its backward regenerates that mask */
  private dropped = false;

  constructor(
    protected gpu: Gpu,
    readonly layer: LinearInfo,
    readonly maxTokens: number,
    opts: LoraOptions,
  ) {
    const { inDim, outDim } = layer;
    this.r = opts.r;
    this.scale = loraScale(opts);
    const rand = seededRandom((opts.seed ?? 0) ^ hashString(layer.name));
    const bound = 1 / Math.sqrt(inDim);
    const a = new Float32Array(opts.r * inDim);
    for (let i = 0; i < a.length; i++) a[i] = (rand() * 2 - 1) * bound;
    this.A = gpu.buffer(a.byteLength, `${layer.name}.lora_A`, a);
    this.B = gpu.buffer(outDim * opts.r * 4, `${layer.name}.lora_B`, new Float32Array(outDim * opts.r));
    this.gradA = gpu.buffer(a.byteLength, `${layer.name}.lora_A.grad`);
    this.gradB = gpu.buffer(outDim * opts.r * 4, `${layer.name}.lora_B.grad`);
    this.xa = gpu.buffer(maxTokens * opts.r * 4, `${layer.name}.lora xA`);
    this.drop = dropoutFor(gpu, layer, opts);
  }

  params(): AdapterParam[] {
    const { inDim, outDim } = this.layer;
    return [
      { name: 'lora_A.weight', shape: [this.r, inDim], buffer: this.A, grad: this.gradA, group: 'A' },
      { name: 'lora_B.weight', shape: [outDim, this.r], buffer: this.B, grad: this.gradB, group: 'B' },
    ];
  }

  /** Sets A [r, in] and B [out, r] (e.g. from a PEFT adapter file). */
  setWeights(A: Float32Array, B: Float32Array) {
    const { inDim, outDim } = this.layer;
    if (A.length !== this.r * inDim) throw new Error(`${this.layer.name}: lora_A has ${A.length} values, expected ${this.r}×${inDim}`);
    if (B.length !== outDim * this.r) throw new Error(`${this.layer.name}: lora_B has ${B.length} values, expected ${outDim}×${this.r}`);
    this.gpu.upload(this.A, A);
    this.gpu.upload(this.B, B);
  }

  async getWeights(): Promise<{ A: Float32Array; B: Float32Array }> {
    const { inDim, outDim } = this.layer;
    return { A: await this.gpu.readF32(this.A, this.r * inDim), B: await this.gpu.readF32(this.B, outDim * this.r) };
  }

  /** Called once on a new adapter after construction (DoRA sets m from the initial weights). */
  async initNew(_gpu: Gpu): Promise<void> {}

  /** This layer's weights as PEFT files hold them (DoRA adds lora_magnitude_vector). */
  async exportLayer(): Promise<LoraLayerWeights> {
    const { A, B } = await this.getWeights();
    return { module: this.layer.name, r: this.r, inDim: this.layer.inDim, outDim: this.layer.outDim, A, B };
  }

  /** Sets this layer from a PEFT file's weights. */
  importLayer(w: LoraLayerWeights): void {
    this.setWeights(w.A, w.B);
  }

  private shape(tokens: number) {
    return { tokens, inDim: this.layer.inDim, outDim: this.layer.outDim, rank: this.r, scale: this.scale };
  }

  // forward: xa = x·Aᵀ [T, r] (saved);  y += s·xa·Bᵀ [T, out].  Training with dropout: x → dropout(x) here only.
  async forward(gpu: Gpu, step: Step, x: GPUBuffer, y: GPUBuffer, tokens: number, training = false): Promise<void> {
    this.dropped = training && !!this.drop;
    if (!this.dropped) return loraForward(gpu, step, this.shape(tokens), x, this.A, this.B, this.xa, y);
    const xd = adapterScratch(gpu).get('lora dropout x', tokens * this.layer.inDim); // [T, in], dead after this call
    await loraDropoutForward(gpu, step, this.shape(tokens), this.drop!, x, this.A, this.B, this.xa, y, xd);
  }

  // backward, with g = dy·B [T, r]:
  //   dx += s·g·A [T, in];   dA (+)= s·gᵀ·x [r, in];   dB (+)= s·dyᵀ·xa [out, r]
  // xa was saved by the forward of this same micro-batch.
  async backward(gpu: Gpu, step: Step, x: GPUBuffer, dy: GPUBuffer, dx: GPUBuffer, tokens: number, accumulate: boolean): Promise<GPUBuffer> {
    const dyB = adapterScratch(gpu).get('lora dyB', tokens * this.r); // [T, r], dead after this call
    if (this.dropped) {
      const work = adapterScratch(gpu).get('lora dropout x', tokens * this.layer.inDim); // [T, in]
      await loraDropoutBackward(gpu, step, { ...this.shape(tokens), accumulate }, this.drop!, x, this.A, this.B, this.xa, dy, dx, this.gradA, this.gradB, dyB, work);
      return dy;
    }
    await loraBackward(gpu, step, { ...this.shape(tokens), accumulateDx: true, accumulate }, x, this.A, this.B, this.xa, dy, dx, this.gradA, this.gradB, dyB);
    return dy;
  }
}

export function loraFactory(opts: LoraOptions): AdapterFactory {
  return (gpu, layer, maxTokens) => new LoraModule(gpu, layer, maxTokens, opts);
}

/**
 * LoRA modules holding a loaded PEFT adapter (io's readLoraAdapter / parseLoraAdapter): one per adapted layer,
 * values set from the file. Every module in the adapter must exist in the model with the same shapes.
 */
export function loraFromAdapter(gpu: Gpu, layers: LinearInfo[], adapter: LoraAdapter, maxTokens: number): Map<string, LoraModule> {
  const byName = new Map(layers.map((l) => [l.name, l] as const));
  const modules = new Map<string, LoraModule>();
  for (const [module, w] of adapter.layers) {
    const layer = byName.get(module) ?? byName.get(`transformer.${module}`);
    if (!layer) throw new Error(`adapter has weights for ${module}, which this model does not have`);
    if (layer.inDim !== w.inDim || layer.outDim !== w.outDim)
      throw new Error(`adapter ${module} is ${w.outDim}×${w.inDim} but the model's layer is ${layer.outDim}×${layer.inDim}`);
    const m = new LoraModule(gpu, layer, maxTokens, { r: w.r, alpha: adapter.config.alpha, rslora: adapter.config.rslora });
    m.setWeights(w.A, w.B);
    modules.set(layer.name, m);
  }
  return modules;
}

// ---------- the method ----------

export const loraMethod: MethodSpec = {
  name: 'lora',
  title: 'LoRA',
  summary: 'Adds a trained low-rank update s·B·A beside each frozen weight (rsLoRA: s = α/√r with --rslora).',
  options: {},
  countParams: (layers, c) => countLoraParams(layers, c.r),
  create: (ctx) => newLoraRun(ctx, makeLora, 'LoRA'),
  matchesConfig: (c) => isLoraConfig(c, false),
  load: (ctx, files, where) => loadLoraRun(ctx, files, where, makeLora, 'LoRA'),
};
