// AdaLoRA (arXiv 2303.10512) as PEFT's tuners/adalora: LoRA in SVD form, with the singular values E trained and
// pruned by importance during training.
//   y = x·W₀ᵀ + s·(E ⊙ (x·Aᵀ))·Bᵀ,   A [r, in], E [r], B [out, r],   s = α / (init_r + 1e-5)  (PEFT's ranknum)
//   forward:  xa = x·Aᵀ [T, r] (saved);  h = E ⊙ xa [T, r] (saved);  y += s·h·Bᵀ
//   backward: g = s·dy·B [T, r];  dE (+)= Σ_t g ⊙ xa;  gE = E ⊙ g;  dx += gE·A;  dA (+)= gEᵀ·x;  dB (+)= s·dyᵀ·h
// Loss += w · mean over all A and B of ‖A·Aᵀ − I‖_F, ‖Bᵀ·B − I‖_F (unsquared; w = --orth-reg-weight), so with
//   N matrices and M = A·Aᵀ − I:  dA += (2w/N)·M·A/‖M‖;  with M = Bᵀ·B − I:  dB += (2w/N)·B·M/‖M‖.
// After each optimizer step the RankAllocator (adalora-allocator.ts) scores every rank and zeroes E of the least
// important ones down to a cubic budget schedule from init_r to target_r ranks per layer.
// Init as PEFT: E = 0, A and B ~ N(0, 0.02). The saved adapter keeps only the ranks of the last rank_pattern.
import type { Gpu, Step } from '../gpu/runtime';
import { matmul } from '../../kernels/matmul';
import { columnDot, columnScale } from '../../kernels/dora';
import { orthLoss, orthNorm } from '../../kernels/adalora';
import type { FileSource } from '../io/files';
import {
  adaloraScale, isAdaLoraConfig, rankPatternKey, readAdaLoraAdapter, serializeAdaLoraAdapter,
  type AdaLoraAdapter, type AdaLoraConfig, type AdaLoraLayerWeights,
} from '../io/peft-adalora';
import { RankAllocator, type AllocationRecord } from './adalora-allocator';
import { seededRandom } from './lora';
import { namedParams, type MethodContext, type MethodRun, type MethodState, type MethodSpec, type OptionSpec } from './method';
import type { AdapterModule, AdapterParam, LinearInfo } from './types';

export class AdaLoraModule implements AdapterModule {
  readonly A: GPUBuffer; // [r, in]
  readonly E: GPUBuffer; // [r]
  readonly B: GPUBuffer; // [out, r]
  readonly gradA: GPUBuffer;
  readonly gradE: GPUBuffer;
  readonly gradB: GPUBuffer;
  private ones: GPUBuffer; // [r] divisor for columnDot
  private xa: GPUBuffer; // [T, r] saved
  private h: GPUBuffer; // [T, r] saved
  private g: GPUBuffer; // [T, r] scratch
  private gE: GPUBuffer; // [T, r] scratch

  constructor(gpu: Gpu, readonly layer: LinearInfo, maxTokens: number, readonly r: number, readonly scale: number) {
    const { inDim, outDim, name } = layer;
    const f = (n: number, label: string, data?: Float32Array) => gpu.buffer(n * 4, `${name}.${label}`, data);
    this.A = f(r * inDim, 'lora_A');
    this.E = f(r, 'lora_E');
    this.B = f(outDim * r, 'lora_B');
    this.gradA = f(r * inDim, 'lora_A.grad');
    this.gradE = f(r, 'lora_E.grad');
    this.gradB = f(outDim * r, 'lora_B.grad');
    this.ones = f(r, 'ones', new Float32Array(r).fill(1));
    [this.xa, this.h, this.g, this.gE] = ['xa', 'h', 'g', 'gE'].map((l) => f(maxTokens * r, `adalora ${l}`));
  }

  params(): AdapterParam[] {
    const { inDim, outDim } = this.layer;
    return [
      { name: 'lora_A', shape: [this.r, inDim], buffer: this.A, grad: this.gradA, group: 'A' },
      { name: 'lora_E', shape: [this.r, 1], buffer: this.E, grad: this.gradE, group: 'B' },
      { name: 'lora_B', shape: [outDim, this.r], buffer: this.B, grad: this.gradB, group: 'B' },
    ];
  }

  setWeights(gpu: Gpu, w: Pick<AdaLoraLayerWeights, 'A' | 'E' | 'B'>) {
    const { inDim, outDim, name } = this.layer;
    if (w.A.length !== this.r * inDim || w.E.length !== this.r || w.B.length !== outDim * this.r)
      throw new Error(`${name}: AdaLoRA weights of ${w.A.length}/${w.E.length}/${w.B.length} values do not fit r=${this.r}, [${outDim}, ${inDim}]`);
    gpu.upload(this.A, w.A);
    gpu.upload(this.E, w.E);
    gpu.upload(this.B, w.B);
  }

  async getWeights(gpu: Gpu): Promise<AdaLoraLayerWeights> {
    const { inDim, outDim } = this.layer, r = this.r;
    return { r, inDim, outDim, A: await gpu.readF32(this.A, r * inDim), E: await gpu.readF32(this.E, r), B: await gpu.readF32(this.B, outDim * r) };
  }

  async forward(gpu: Gpu, step: Step, x: GPUBuffer, y: GPUBuffer, tokens: number): Promise<void> {
    const { inDim, outDim } = this.layer, r = this.r, T = tokens;
    await matmul(gpu, step, { M: T, N: r, K: inDim, transB: true }, x, this.A, this.xa); // xa = x·Aᵀ
    await columnScale(gpu, step, { rows: T, cols: r }, this.xa, this.E, this.h); // h = E ⊙ xa
    await matmul(gpu, step, { M: T, N: outDim, K: r, transB: true, accumulate: true, alpha: this.scale }, this.h, this.B, y); // y += s·h·Bᵀ
  }

  async backward(gpu: Gpu, step: Step, x: GPUBuffer, dy: GPUBuffer, dx: GPUBuffer, tokens: number, accumulate: boolean): Promise<GPUBuffer> {
    const { inDim, outDim } = this.layer, r = this.r, T = tokens;
    await matmul(gpu, step, { M: T, N: r, K: outDim, alpha: this.scale }, dy, this.B, this.g); // g = s·dy·B [T, r]
    await columnDot(gpu, step, { rows: T, cols: r, accumulate }, this.g, this.xa, this.ones, this.gradE); // dE = Σ_t g ⊙ xa
    await columnScale(gpu, step, { rows: T, cols: r }, this.g, this.E, this.gE); // gE = E ⊙ g = d(xa)
    await matmul(gpu, step, { M: T, N: inDim, K: r, accumulate: true }, this.gE, this.A, dx); // dx += gE·A
    await matmul(gpu, step, { M: r, N: inDim, K: T, transA: true, accumulate }, this.gE, x, this.gradA); // dA = gEᵀ·x
    await matmul(gpu, step, { M: outDim, N: r, K: T, transA: true, accumulate, alpha: this.scale }, dy, this.h, this.gradB); // dB = s·dyᵀ·h
    return dy;
  }
}

/** Seeded N(0, std²) values (Box–Muller over mulberry32), PEFT's nn.init.normal_ in distribution. */
export function gaussian(n: number, seed: number, std: number): Float32Array {
  const rand = seededRandom(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - rand(), v = rand();
    const rad = std * Math.sqrt(-2 * Math.log(u));
    out[i] = rad * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = rad * Math.sin(2 * Math.PI * v);
  }
  return out;
}

function hashName(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * The orthogonal regulariser over every A and B of the run (rank-0 layers count as matrices of norm 0, as in PEFT):
 * adds its gradient into the grads and w · (Σ norms / N) into lossSum. One [r, r] scratch serves all layers: the
 * dispatches of a pass run in order.
 */
export class OrthRegulariser {
  private cov: GPUBuffer;
  private norms: GPUBuffer;

  constructor(private gpu: Gpu, private modules: AdaLoraModule[], private matrices: number, private weight: number) {
    const rMax = Math.max(1, ...modules.map((m) => m.r));
    this.cov = gpu.buffer(rMax * rMax * 4, 'adalora AAᵀ');
    this.norms = gpu.buffer(Math.max(matrices, 1) * 4, 'adalora ‖·‖_F', new Float32Array(Math.max(matrices, 1)));
  }

  async record(step: Step, lossSum: GPUBuffer): Promise<void> {
    const { gpu, cov } = this;
    const coef = (2 * this.weight) / this.matrices;
    for (const [i, m] of this.modules.entries()) {
      const { inDim, outDim } = m.layer, r = m.r;
      await matmul(gpu, step, { M: r, N: r, K: inDim, transB: true }, m.A, m.A, cov); // A·Aᵀ
      await orthNorm(gpu, step, { r, slot: 2 * i, coef }, cov, this.norms);
      await matmul(gpu, step, { M: r, N: inDim, K: r, accumulate: true }, cov, m.A, m.gradA); // dA += c·M·A
      await matmul(gpu, step, { M: r, N: r, K: outDim, transA: true }, m.B, m.B, cov); // Bᵀ·B
      await orthNorm(gpu, step, { r, slot: 2 * i + 1, coef }, cov, this.norms);
      await matmul(gpu, step, { M: outDim, N: r, K: r, accumulate: true }, m.B, cov, m.gradB); // dB += c·B·M
    }
    await orthLoss(gpu, step, { count: this.matrices, weight: this.weight }, this.norms, lossSum);
  }
}

export interface AdaLoraRun extends MethodRun {
  adaModules: Map<string, AdaLoraModule>;
  config: AdaLoraConfig;
  /** null for an adapter loaded for inference (no training options) */
  allocator: RankAllocator | null;
  /** every allocation so far (step, budget, mask flag, rank pattern) */
  allocations: AllocationRecord[];
}

const OPTIONS: Record<string, OptionSpec> = {
  'init-r': { kind: 'int', default: 12, min: 1, help: 'initial rank of every layer (AdaLoRA takes its r from here, not --rank)' },
  'target-r': { kind: 'int', default: 8, min: 0, help: 'average rank per layer the budget shrinks to' },
  tinit: { kind: 'int', default: 0, min: 0, help: 'steps of warmup before any rank is pruned' },
  tfinal: { kind: 'int', default: 0, min: 0, help: 'final steps trained with the rank pattern fixed' },
  'delta-t': { kind: 'int', default: 1, min: 1, help: 'steps between two rank allocations' },
  'orth-reg-weight': { kind: 'number', default: 0.5, above: 0, help: 'weight of the orthogonal regulariser on A and B' },
  'total-step': { kind: 'int', default: 0, min: 0, help: 'the schedule’s total steps (0: the run’s --steps)' },
  'adalora-beta1': { kind: 'number', default: 0.85, above: 0, max: 0.999999, help: 'EMA factor of the sensitivity' },
  'adalora-beta2': { kind: 'number', default: 0.85, above: 0, max: 0.999999, help: 'EMA factor of the uncertainty' },
};
// option flag → AdaLoraConfig field (the schedule a file carries)
const FILE_FIELD: Record<string, keyof AdaLoraConfig> = {
  'init-r': 'initR', 'target-r': 'targetR', tinit: 'tinit', tfinal: 'tfinal', 'delta-t': 'deltaT', 'orth-reg-weight': 'orthRegWeight',
  'adalora-beta1': 'beta1', 'adalora-beta2': 'beta2',
};

/** The modules for `adapter` on the model's layers, the regulariser and the allocator (when training), the export. */
async function adaloraRun(ctx: MethodContext, adapter: AdaLoraAdapter, describe: string): Promise<AdaLoraRun> {
  const { gpu } = ctx;
  const c = adapter.config;
  const scale = adaloraScale(c);
  const byName = new Map(ctx.layers.map((l) => [l.name, l]));
  const modules = new Map<string, AdaLoraModule>();
  const fileName = new Map<string, string>(); // model layer name → the adapter's module name
  for (const [name, w] of adapter.layers) {
    const layer = byName.get(name) ?? byName.get(`transformer.${name}`);
    if (!layer) throw new Error(`the AdaLoRA adapter adapts ${name}, which this model does not have`);
    if (layer.inDim !== w.inDim || layer.outDim !== w.outDim) throw new Error(`${name} is [${layer.outDim}, ${layer.inDim}] in the model but the adapter's is [${w.outDim}, ${w.inDim}]`);
    if (w.r === 0) continue; // every rank pruned: no contribution
    const m = new AdaLoraModule(gpu, layer, ctx.maxTokens, w.r, scale);
    m.setWeights(gpu, w);
    modules.set(layer.name, m);
    fileName.set(layer.name, name);
  }
  const params = [...modules].flatMap(([name, m]) => namedParams(name, m.params()));
  let allocator: RankAllocator | null = null;
  let reg: OrthRegulariser | null = null;
  if (ctx.train) {
    if (c.totalStep === null || c.totalStep <= 0) throw new Error('AdaLoRA needs total_step > 0');
    if (c.tinit >= c.totalStep - c.tfinal) throw new Error(`AdaLoRA: tinit ${c.tinit} leaves no budgeting phase before total_step ${c.totalStep} − tfinal ${c.tfinal}`);
    const alloc = [...modules].map(([name, m]) => {
      const [A, E, B] = m.params();
      return { module: fileName.get(name)!, key: rankPatternKey(fileName.get(name)!), r: m.r, inDim: m.layer.inDim, outDim: m.layer.outDim, A, E, B };
    });
    const grads = params.map((p) => ({ buffer: p.grad!, n: p.shape.reduce((a, b) => a * b, 1) }));
    const sched = { targetR: c.targetR, tinit: c.tinit, tfinal: c.tfinal, deltaT: c.deltaT, totalStep: c.totalStep, beta1: c.beta1, beta2: c.beta2 };
    allocator = new RankAllocator(gpu, alloc, sched, ctx.train.maxGradNorm ?? 0, grads, adapter.layers.size);
    reg = new OrthRegulariser(gpu, [...modules.values()], 2 * adapter.layers.size, c.orthRegWeight);
  }
  const allocations: AllocationRecord[] = [];
  const filePattern = c.rankPattern;
  return {
    modules, adaModules: modules, config: c, allocator, allocations, params,
    describe: `${describe}: ${modules.size} layers, init_r=${c.initR}, target_r=${c.targetR}, alpha=${c.alpha}`,
    async beforeOptimizer(step, lossSum) {
      await reg?.record(step, lossSum);
    },
    async afterOptimizer(step, stepNo) {
      await allocator?.record(step, stepNo);
    },
    async afterStep(stepNo) {
      if (!allocator) return;
      const rec = await allocator.allocate(stepNo);
      allocations.push(rec);
      if (stepNo === allocator.finalStep) ctx.log(`AdaLoRA: final rank pattern at step ${stepNo}, ${rec.budget} of ${allocator.initBudget} ranks kept`);
    },
    async exportAdapter() {
      const layers = new Map(adapter.layers);
      for (const [name, m] of modules) layers.set(fileName.get(name)!, await m.getWeights(gpu));
      // fully pruned layers (rank 0, no module) keep their entry from the file
      const rankPattern = allocator?.rankPattern ? { ...filePattern, ...allocator.rankPattern } : filePattern;
      return serializeAdaLoraAdapter({ config: { ...c, rankPattern }, layers });
    },
    async saveState() {
      // the exported file drops pruned ranks; the state keeps every rank so that a resume continues exactly
      const state = allocator ? await allocator.saveState() : { json: {}, tensors: {} };
      for (const [name, m] of modules) {
        const w = await m.getWeights(gpu);
        Object.assign(state.tensors, { [`${FULL}.${fileName.get(name)}.lora_A`]: w.A, [`${FULL}.${fileName.get(name)}.lora_E`]: w.E, [`${FULL}.${fileName.get(name)}.lora_B`]: w.B });
      }
      return state;
    },
    async restoreState(json, tensors) {
      allocator?.restoreState(json, tensors);
    },
  };
}

// A WebLoRA checkpoint (train/session.ts) keeps, in the method state saveState wrote, the un-truncated weights:
// resuming continues from them (the PEFT file holds only the kept ranks).
const FULL = 'full';

/** Every layer back at its full rank from the checkpoint's method state. */
function untruncate(adapter: AdaLoraAdapter, state: MethodState, where: string) {
  for (const [module, l] of adapter.layers) {
    const [A, E, B] = ['A', 'E', 'B'].map((t) => state.tensors[`${FULL}.${module}.lora_${t}`]);
    if (!A || !E || !B) continue;
    const r = E.length;
    if (A.length !== r * l.inDim || B.length !== l.outDim * r) throw new Error(`${where}: the checkpoint's full weights of ${module} do not fit its shape`);
    adapter.layers.set(module, { ...l, r, A, E, B });
  }
}

/** An option's value: the flag when it was changed from its default, else the file's (when loading), else the default. */
function option(ctx: MethodContext, flag: string, file?: AdaLoraConfig): number {
  const given = ctx.options?.[flag] as number | undefined;
  const dflt = OPTIONS[flag].default as number;
  const has = file?.[FILE_FIELD[flag]] as number | undefined;
  if (given !== undefined && given !== dflt) {
    if (has !== undefined && has !== given) throw new Error(`--${flag} ${given} contradicts the adapter's ${FILE_FIELD[flag]} ${has}`);
    return given;
  }
  return has ?? dflt;
}

function schedule(ctx: MethodContext, file?: AdaLoraConfig) {
  const total = (ctx.options?.['total-step'] as number | undefined) || ctx.common.steps;
  return {
    initR: option(ctx, 'init-r', file), targetR: option(ctx, 'target-r', file), tinit: option(ctx, 'tinit', file), tfinal: option(ctx, 'tfinal', file),
    deltaT: option(ctx, 'delta-t', file), orthRegWeight: option(ctx, 'orth-reg-weight', file), beta1: option(ctx, 'adalora-beta1', file),
    beta2: option(ctx, 'adalora-beta2', file), totalStep: ctx.train ? total : file?.totalStep ?? null,
  };
}

export const adaloraMethod: MethodSpec = {
  name: 'adalora',
  title: 'AdaLoRA',
  summary: 'LoRA in SVD form (A, singular values E, B) whose ranks are pruned by importance to a budget during training.',
  options: OPTIONS,
  // r comes from --init-r ('rank' is the CLI flag, 'r' the session setting)
  rejects: ['rank', 'r', 'rslora', 'lora-dropout', 'dropout'], // lora_dropout: not implemented (files say 0.0)
  countParams: (layers, _c, o) => layers.reduce((a, l) => a + ((o?.['init-r'] as number | undefined) ?? 12) * (l.inDim + l.outDim + 1), 0),
  async create(ctx) {
    const { common } = ctx;
    if (!ctx.layers.length) throw new Error(`the targets ${common.targets.join(',')} match no linear layer of this model`);
    const s = schedule(ctx);
    const config: AdaLoraConfig = { ...s, alpha: common.alpha, targetModules: common.targets, fanInFanOut: common.fanInFanOut, baseModel: common.baseModel, rankPattern: null };
    const r = s.initR;
    const layers = new Map<string, AdaLoraLayerWeights>();
    for (const l of ctx.layers) {
      const seed = (common.seed ^ hashName(l.name)) >>> 0;
      layers.set(l.name, { r, inDim: l.inDim, outDim: l.outDim, A: gaussian(r * l.inDim, seed, 0.02), E: new Float32Array(r), B: gaussian(l.outDim * r, seed + 1, 0.02) });
    }
    return adaloraRun(ctx, { config, layers }, 'new AdaLoRA');
  },
  matchesConfig: isAdaLoraConfig,
  async load(ctx, files: FileSource, where) {
    const adapter = await readAdaLoraAdapter(files, where);
    if (ctx.resume) untruncate(adapter, ctx.resume, where);
    adapter.config = { ...adapter.config, ...schedule(ctx, adapter.config) };
    return adaloraRun(ctx, adapter, `AdaLoRA adapter ${where}`);
  },
};
