// VeRA (arXiv 2310.11454) as PEFT's tuners/vera: one frozen random pair shared by every adapted layer,
// vera_A [r, max_in] and vera_B [max_out, r], sliced per layer (A_s = vera_A[:, :in], B_s = vera_B[:out, :]);
// trained per layer only two vectors, λ_d [r] (init d_initial) and λ_b [out] (init 0). No α scaling.
//   forward:  xa = x·A_sᵀ [T, r] (saved);  h = λ_d ⊙ xa;  u = h·B_sᵀ [T, out];  y += λ_b ⊙ u
//   backward: u again from xa (one T×r×out matmul: saving u would cost [T, out] per layer, gigabytes over a model);
//             dλ_b (+)= Σ_t dy ⊙ u;  dh = (λ_b ⊙ dy)·B_s [T, r];  dλ_d (+)= Σ_t dh ⊙ xa;  dx += (λ_d ⊙ dh)·A_s
//   Every buffer but xa is shared scratch (adapters/scratch.ts).
// Projections: PEFT draws them from torch's RNG (kaiming_uniform, bound √(6/fan_in)), which JS cannot replay, so
// new runs draw their own (seeded) and the adapter file always carries them (save_projection).
import type { Gpu, Step } from '../gpu/runtime';
import { matmul } from '../../kernels/matmul';
import { addInto } from '../../kernels/activation';
import { columnDot, columnScale } from '../../kernels/dora';
import { seededRandom } from './lora';
import { adapterScratch } from './scratch';
import type { AdapterModule, AdapterParam, LinearInfo } from './types';
import { namedParams, type MethodContext, type MethodRun, type MethodSpec } from './method';
import { readVeraAdapter, serializeVeraAdapter, type VeraAdapter } from '../io/peft-vera';

export interface VeraProjections {
  r: number;
  maxIn: number;
  maxOut: number;
  A: Float32Array; // [r, maxIn]
  B: Float32Array; // [maxOut, r]
}

/** Seeded Kaiming-uniform projections (gain √2: bound √(6/fan_in); fan_in = maxIn for A, r for B). */
export function makeVeraProjections(r: number, maxIn: number, maxOut: number, seed: number): VeraProjections {
  const rand = seededRandom(seed);
  const A = new Float32Array(r * maxIn), B = new Float32Array(maxOut * r);
  const bA = Math.sqrt(6 / maxIn), bB = Math.sqrt(6 / r);
  for (let i = 0; i < A.length; i++) A[i] = (rand() * 2 - 1) * bA;
  for (let i = 0; i < B.length; i++) B[i] = (rand() * 2 - 1) * bB;
  return { r, maxIn, maxOut, A, B };
}

export class VeraModule implements AdapterModule {
  readonly r: number;
  private A: GPUBuffer; // A_s [r, in], frozen
  private B: GPUBuffer; // B_s [out, r], frozen
  readonly lambdaD: GPUBuffer; // [r]
  readonly lambdaB: GPUBuffer; // [out]
  readonly gradD: GPUBuffer;
  readonly gradB: GPUBuffer;
  private ones: GPUBuffer; // [max(r, out)] divisor for columnDot
  private xa: GPUBuffer; // [T, r] saved

  constructor(gpu: Gpu, readonly layer: LinearInfo, maxTokens: number, proj: VeraProjections, dInitial: number) {
    const { inDim, outDim } = layer;
    const r = (this.r = proj.r);
    if (inDim > proj.maxIn || outDim > proj.maxOut) throw new Error(`${layer.name}: [${outDim}, ${inDim}] exceeds the VeRA projections [${proj.maxOut}, ${proj.maxIn}]`);
    const a = new Float32Array(r * inDim);
    for (let k = 0; k < r; k++) a.set(proj.A.subarray(k * proj.maxIn, k * proj.maxIn + inDim), k * inDim);
    this.A = gpu.buffer(a.byteLength, `${layer.name}.vera_A slice`, a);
    this.B = gpu.buffer(outDim * r * 4, `${layer.name}.vera_B slice`, proj.B.slice(0, outDim * r));
    this.lambdaD = gpu.buffer(r * 4, `${layer.name}.vera_lambda_d`, new Float32Array(r).fill(dInitial));
    this.lambdaB = gpu.buffer(outDim * 4, `${layer.name}.vera_lambda_b`, new Float32Array(outDim));
    this.gradD = gpu.buffer(r * 4, `${layer.name}.vera_lambda_d.grad`);
    this.gradB = gpu.buffer(outDim * 4, `${layer.name}.vera_lambda_b.grad`);
    this.ones = gpu.buffer(Math.max(r, outDim) * 4, 'ones', new Float32Array(Math.max(r, outDim)).fill(1));
    this.xa = gpu.buffer(maxTokens * r * 4, `${layer.name}.vera xa`);
  }

  params(): AdapterParam[] {
    return [
      { name: 'vera_lambda_b', shape: [this.layer.outDim], buffer: this.lambdaB, grad: this.gradB, group: 'B' },
      { name: 'vera_lambda_d', shape: [this.r], buffer: this.lambdaD, grad: this.gradD, group: 'B' },
    ];
  }

  setLambdas(gpu: Gpu, d: Float32Array, b: Float32Array) {
    if (d.length !== this.r || b.length !== this.layer.outDim) throw new Error(`${this.layer.name}: vera_lambda_d/b have ${d.length}/${b.length} values, expected ${this.r}/${this.layer.outDim}`);
    gpu.upload(this.lambdaD, d);
    gpu.upload(this.lambdaB, b);
  }

  async getLambdas(gpu: Gpu): Promise<{ d: Float32Array; b: Float32Array }> {
    return { d: await gpu.readF32(this.lambdaD, this.r), b: await gpu.readF32(this.lambdaB, this.layer.outDim) };
  }

  /** shared scratch: two [T, r] and two [T, out] */
  private scratch(gpu: Gpu, T: number) {
    const s = adapterScratch(gpu), { outDim } = this.layer;
    return { tr: s.get('vera [T,r]', T * this.r), tr2: s.get('vera [T,r] 2', T * this.r), u: s.get('vera u', T * outDim), to: s.get('vera [T,out]', T * outDim) };
  }

  /** u = (λ_d ⊙ xa)·B_sᵀ [T, out] into scratch (h in tr) */
  private async computeU(gpu: Gpu, step: Step, T: number, tr: GPUBuffer, u: GPUBuffer) {
    await columnScale(gpu, step, { rows: T, cols: this.r }, this.xa, this.lambdaD, tr); // h = λ_d ⊙ xa
    await matmul(gpu, step, { M: T, N: this.layer.outDim, K: this.r, transB: true }, tr, this.B, u);
  }

  async forward(gpu: Gpu, step: Step, x: GPUBuffer, y: GPUBuffer, tokens: number): Promise<void> {
    const { inDim, outDim } = this.layer, r = this.r, T = tokens;
    const { tr, u, to } = this.scratch(gpu, T);
    await matmul(gpu, step, { M: T, N: r, K: inDim, transB: true }, x, this.A, this.xa); // xa [T, r]
    await this.computeU(gpu, step, T, tr, u);
    await columnScale(gpu, step, { rows: T, cols: outDim }, u, this.lambdaB, to); // λ_b ⊙ u
    await addInto(gpu, step, { n: T * outDim }, y, to);
  }

  async backward(gpu: Gpu, step: Step, x: GPUBuffer, dy: GPUBuffer, dx: GPUBuffer, tokens: number, accumulate: boolean): Promise<GPUBuffer> {
    const { inDim, outDim } = this.layer, r = this.r, T = tokens;
    const { tr, tr2, u, to } = this.scratch(gpu, T);
    await this.computeU(gpu, step, T, tr, u);
    await columnDot(gpu, step, { rows: T, cols: outDim, accumulate }, dy, u, this.ones, this.gradB); // dλ_b
    await columnScale(gpu, step, { rows: T, cols: outDim }, dy, this.lambdaB, to); // du = λ_b ⊙ dy
    await matmul(gpu, step, { M: T, N: r, K: outDim }, to, this.B, tr); // dh = du·B_s [T, r]
    await columnDot(gpu, step, { rows: T, cols: r, accumulate }, tr, this.xa, this.ones, this.gradD); // dλ_d
    await columnScale(gpu, step, { rows: T, cols: r }, tr, this.lambdaD, tr2); // dxa = λ_d ⊙ dh
    await matmul(gpu, step, { M: T, N: inDim, K: r, accumulate: true }, tr2, this.A, dx); // dx += dxa·A_s
    return dy;
  }
}

// ---------- the method ----------

/** VeRA modules for every layer of an adapter (projections sliced per layer, λ set from the adapter). */
function veraRun(ctx: MethodContext, adapter: VeraAdapter, describe: string): MethodRun {
  const byName = new Map(ctx.layers.map((l) => [l.name, l]));
  const proj = { r: adapter.config.r, maxIn: adapter.maxIn, maxOut: adapter.maxOut, A: adapter.A, B: adapter.B };
  const modules = new Map<string, VeraModule>();
  const fileName = new Map<string, string>(); // model layer name → the adapter's module name
  for (const [name, w] of adapter.layers) {
    const layer = byName.get(name) ?? byName.get(`transformer.${name}`);
    if (!layer) throw new Error(`the VeRA adapter adapts ${name}, which this model does not have`);
    const m = new VeraModule(ctx.gpu, layer, ctx.maxTokens, proj, adapter.config.dInitial);
    m.setLambdas(ctx.gpu, w.lambdaD, w.lambdaB);
    modules.set(layer.name, m);
    fileName.set(layer.name, name);
  }
  return {
    modules,
    params: [...modules].flatMap(([name, m]) => namedParams(name, m.params())),
    describe: `${describe}: ${modules.size} layers, r=${adapter.config.r}`,
    async exportAdapter() {
      for (const [name, m] of modules) {
        const { d, b } = await m.getLambdas(ctx.gpu);
        adapter.layers.set(fileName.get(name)!, { lambdaD: d, lambdaB: b });
      }
      return serializeVeraAdapter(adapter);
    },
  };
}

export const veraMethod: MethodSpec = {
  name: 'vera',
  title: 'VeRA',
  summary: 'One frozen random pair of matrices shared by all layers; each layer trains only two scaling vectors (λ_d, λ_b).',
  options: {
    'projection-seed': { kind: 'int', default: 0, min: 0, help: 'seed of the shared random projections' },
    'd-initial': { kind: 'number', default: 0.1, help: 'initial value of λ_d' },
  },
  defaults: { r: 256 }, // PEFT's VeraConfig default
  rejects: ['alpha', 'rslora', 'lora-dropout', 'dropout'], // vera_dropout: not implemented (files say 0.0)
  countParams: (layers, c) => layers.reduce((a, l) => a + c.r + l.outDim, 0),
  async create(ctx) {
    const { common, options } = ctx;
    if (!ctx.layers.length) throw new Error(`the targets ${common.targets.join(',')} match no linear layer of this model`);
    const r = common.r, dInitial = options['d-initial'] as number, seed = options['projection-seed'] as number;
    const maxIn = Math.max(...ctx.layers.map((l) => l.inDim)), maxOut = Math.max(...ctx.layers.map((l) => l.outDim));
    const proj = makeVeraProjections(r, maxIn, maxOut, seed);
    const adapter: VeraAdapter = {
      config: { r, targetModules: common.targets, projectionSeed: seed, dInitial, fanInFanOut: common.fanInFanOut, baseModel: common.baseModel },
      A: proj.A, B: proj.B, maxIn, maxOut,
      layers: new Map(ctx.layers.map((l) => [l.name, { lambdaD: new Float32Array(r).fill(dInitial), lambdaB: new Float32Array(l.outDim) }])),
    };
    return veraRun(ctx, adapter, 'new VeRA');
  },
  matchesConfig: (c) => String(c.peft_type ?? '').toUpperCase() === 'VERA',
  load: async (ctx, files, where) => veraRun(ctx, await readVeraAdapter(files, where), `VeRA adapter ${where}`),
};
