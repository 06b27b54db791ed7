// DoRA (arXiv 2402.09353) as PEFT's DoraLinearLayer (use_dora=True): LoRA's low-rank update plus a trained
// magnitude m [out] per output row,
//   W' = m ⊙ (W₀ + s·B·A) / n,   n = ‖W₀ + s·B·A‖_row   (n DETACHED: a constant in backward, the paper's §4.3)
//   y  = c ⊙ (x·W₀ᵀ + s·(x·Aᵀ)·Bᵀ),  c = m / n          (PEFT: (c − 1)·base + c·s·lora added to base)
// backward, with dz = c ⊙ dy:  the LoRA path and the base path both use dz;  dm = Σ_t dy ⊙ z / n.
// m starts at n of the initial weights (PEFT computes it from W₀ + s·B·A, which is ‖W₀‖_row when B = 0).
// n is recomputed from the current A, B every forward (one pass over W₀: same cost as the base matmul's loads).
import type { Gpu, Step } from '../gpu/runtime';
import { doraBackward, doraRowNorm, doraScaleForward } from '../../kernels/dora';
import { LoraModule, type LoraOptions } from './lora';
import type { AdapterParam, LinearInfo } from './types';
import type { LoraLayerWeights } from '../io/peft';
import type { MethodSpec } from './method';
import { adapterScratch } from './scratch';
import { countLoraParams, isLoraConfig, loadLoraRun, newLoraRun, type LoraMaker } from './lora-run';

export class DoraModule extends LoraModule {
  readonly magnitude: GPUBuffer; // m [out]
  readonly gradMagnitude: GPUBuffer;
  private norm: GPUBuffer; // n [out], this micro-batch's
  private colScale: GPUBuffer; // c = m / n [out]
  private z: GPUBuffer; // [maxTokens, out]: pre-scale output, saved for dm

  constructor(gpu: Gpu, layer: LinearInfo, maxTokens: number, opts: LoraOptions) {
    super(gpu, layer, maxTokens, opts);
    const out = layer.outDim;
    this.magnitude = gpu.buffer(out * 4, `${layer.name}.lora_magnitude_vector`, new Float32Array(out).fill(1));
    this.gradMagnitude = gpu.buffer(out * 4, `${layer.name}.lora_magnitude_vector.grad`);
    this.norm = gpu.buffer(out * 4, `${layer.name}.dora n`);
    this.colScale = gpu.buffer(out * 4, `${layer.name}.dora m/n`);
    this.z = gpu.buffer(maxTokens * out * 4, `${layer.name}.dora z`);
  }

  params(): AdapterParam[] {
    // 1-D: LoRA+ puts it in B's group, as PEFT's create_loraplus_optimizer
    return [...super.params(), { name: 'lora_magnitude_vector', shape: [this.layer.outDim], buffer: this.magnitude, grad: this.gradMagnitude, group: 'B' }];
  }

  private doraShape(tokens: number) {
    return { tokens, inDim: this.layer.inDim, outDim: this.layer.outDim, rank: this.r, scale: this.scale };
  }

  private async rowNorm(gpu: Gpu, step: Step) {
    const l = this.layer;
    await doraRowNorm(gpu, step, { ...this.doraShape(0), weightType: l.weightType, weightTransposed: l.weightTransposed }, l.weight, this.A, this.B, this.magnitude, this.norm, this.colScale);
  }

  /** m = ‖W₀ + s·B·A‖_row of the current A, B (PEFT's init of a new DoRA adapter). */
  async initMagnitude(gpu: Gpu): Promise<void> {
    const step = gpu.step('dora init m');
    await this.rowNorm(gpu, step);
    step.copy(this.norm, 0, this.magnitude, 0, this.layer.outDim * 4);
    step.submit();
  }

  async initNew(gpu: Gpu): Promise<void> {
    await this.initMagnitude(gpu);
  }

  async exportLayer(): Promise<LoraLayerWeights> {
    return { ...(await super.exportLayer()), magnitude: await this.getMagnitude(this.gpu) };
  }

  importLayer(w: LoraLayerWeights): void {
    super.importLayer(w);
    if (!w.magnitude) throw new Error(`${this.layer.name}: a DoRA layer needs lora_magnitude_vector`);
    this.setMagnitude(this.gpu, w.magnitude);
  }

  setMagnitude(gpu: Gpu, m: Float32Array) {
    if (m.length !== this.layer.outDim) throw new Error(`${this.layer.name}: lora_magnitude_vector has ${m.length} values, expected ${this.layer.outDim}`);
    gpu.upload(this.magnitude, m);
  }

  async getMagnitude(gpu: Gpu): Promise<Float32Array> {
    return gpu.readF32(this.magnitude, this.layer.outDim);
  }

  // forward: n, c from the current weights;  z = y + s·(x·Aᵀ)·Bᵀ (LoRA);  y = c ⊙ z (z saved)
  async forward(gpu: Gpu, step: Step, x: GPUBuffer, y: GPUBuffer, tokens: number): Promise<void> {
    await this.rowNorm(gpu, step);
    await super.forward(gpu, step, x, y, tokens);
    await doraScaleForward(gpu, step, this.doraShape(tokens), y, this.z, this.colScale);
  }

  // backward: dz = c ⊙ dy, dm (+)= Σ_t dy·z / n;  LoRA's backward with dz;  the base path gets dz too
  async backward(gpu: Gpu, step: Step, x: GPUBuffer, dy: GPUBuffer, dx: GPUBuffer, tokens: number, accumulate: boolean): Promise<GPUBuffer> {
    // dz [T, out] = c ⊙ dy lives only until the base path's dx = dz·W₀ right after this: shared scratch
    const dz = adapterScratch(gpu).get('dora dz', tokens * this.layer.outDim);
    await doraBackward(gpu, step, { ...this.doraShape(tokens), accumulate }, dy, this.z, this.norm, this.colScale, dz, this.gradMagnitude);
    await super.backward(gpu, step, x, dz, dx, tokens, accumulate);
    return dz;
  }
}

// ---------- the method ----------

const makeDora: LoraMaker = (gpu, layer, maxTokens, opts) => new DoraModule(gpu, layer, maxTokens, opts);

export const doraMethod: MethodSpec = {
  name: 'dora',
  title: 'DoRA',
  summary: 'Splits each adapted weight into a trained magnitude per output row and a direction updated by LoRA.',
  options: {},
  // PEFT's DoRA with lora_dropout > 0 also runs the base weight on dropout(x) inside the magnitude-scaled term
  // ((m/n − 1)·W₀·dropout(x)): a second base matmul in forward and backward that WebLoRA does not implement
  rejects: ['lora-dropout', 'dropout'],
  countParams: (layers, c) => countLoraParams(layers, c.r) + layers.reduce((a, l) => a + l.outDim, 0),
  create: (ctx) => newLoraRun(ctx, makeDora, 'DoRA', { dora: true }),
  matchesConfig: (c) => isLoraConfig(c, true),
  load: (ctx, files, where) => loadLoraRun(ctx, files, where, makeDora, 'DoRA'),
};
