// LoRA-drop (arXiv 2402.07721, COLING 2025; not in PEFT, no reference code). Two phases on the targeted layers:
//   phase 1     plain LoRA (A Kaiming-uniform, B = 0, exactly --method lora's init) trained on a sample D_s of the data
//   importance  g_i = Σ_{x∈D_s} Σ_t ‖s·B_i·A_i·x_t‖²   (x_t: layer i's input at token t);   I_i = g_i / Σ_j g_j
//   selection   layers by I descending, kept until Σ_kept I ≥ T (--drop-threshold); at least one is kept
//   phase 2     kept layers train their own LoRA; all other layers of one shape [out, in] share ONE pair (A_sh, B_sh):
//                 y_i = x·W_iᵀ + s·(x·A_shᵀ)·B_shᵀ,    ∂L/∂A_sh = Σ_{users i} ∂L/∂A_i   (B_sh alike)
//   file        a plain PEFT LORA adapter; the shared pair is copied under every user's keys (PeftModel loads it)
//
// Decisions (the paper only says "train LoRA briefly on a stratified sample"):
//  - Sample: max(1, round(p·N)) examples, p = --drop-sample, drawn without replacement seeded by --seed (uniform: a
//    text data set has no classes to stratify by).
//  - Phase 1 is EXTRA: --steps counts phase 2 only, so the {"step","loss","lr"} lines are phase 2's, exactly --steps
//    of them; phase 1's losses go to the log and the {"loradrop": …} report. Its length, --drop-warmup-steps, is by
//    default (0) ⌈p·steps⌉: as many passes over its sample as the run makes over the whole data, at p of the cost.
//  - Phase 1 optimiser: the run's own (lr, AdamW, clipping, batch, grad-accum, shuffle, seed), its schedule shape
//    compressed to phase 1's length (warmup scaled by the same factor, rounded down); its moments are dropped after.
//  - Importance tokens: every position up to a row's last label, i.e. the positions whose layer outputs reach the
//    loss (attention is causal); padding and an unlabelled tail are left out. Forward only, phase-1 adapters.
//  - Phase 2 init: kept layers continue from their phase-1 A, B (the paper "retains" their LoRA); each shared pair is
//    new (PEFT init: A Kaiming-uniform seeded by its shape, B = 0), so dropped layers restart from W₀ and phase 2
//    begins from the phase-1 model minus the dropped ≤ (1 − T) share of the LoRA output.
//  - Shared gradient: all users ADD into the pair's gradient; the first user to run backward after a forward obeys
//    the trainer's flag (overwrite on a step's first micro-batch), so the pair as a whole keeps types.ts' contract.
//  - A pair is keyed (optimizer state, checkpoints) by its first user in model order: a pair with one user is then
//    exactly an own LoRA, and load() rebuilds the sharing from the file (users hold bitwise-identical copies).
//  - Reported: log lines (phase-1 losses, every layer's importance, the selection), `run.report` (sample, phase-1
//    losses, importances, kept, shared by shape; for a {"loradrop": …} JSON line) and saveState (weblora.json).
import type { Gpu, Step } from '../gpu/runtime';
import { matmul } from '../../kernels/matmul';
import { loraBackward, loraForward } from '../../kernels/linear';
import { loraDropoutBackward, loraDropoutForward, type DropoutMask } from '../../kernels/dropout';
import { reduceSum } from '../../kernels/loss';
import { lowRankRowSumSq } from '../../kernels/loradrop';
import { readLoraAdapter, serializeLoraAdapter, type LoraAdapterConfig, type LoraLayerWeights } from '../io/peft';
import { Trainer, type Batch, type StepRecord, type TrainOptions } from '../train/trainer';
import { mulberry32 } from '../util/random';
import { LoraModule, dropoutFor, type LoraOptions } from './lora';
import { adapterScratch } from './scratch';
import { countLoraParams, isLoraConfig } from './lora-run';
import { namedParams, type MethodContext, type MethodRun, type MethodSpec, type NamedParam } from './method';
import type { AdapterModule, AdapterParam, LinearInfo } from './types';

const shapeKey = (l: { outDim: number; inDim: number }) => `${l.outDim}x${l.inDim}`;

// ---------- phase 2: one LoRA pair shared by the dropped layers of a shape ----------

/** A and B (+ grads) of one shape, held by a LoraModule on a pseudo-layer named for the shape (never run itself). */
export class SharedPair {
  readonly holder: LoraModule;
  readonly users: string[] = [];
  /** true from a user's forward until the first user's backward: that one overwrites on a fresh micro-batch */
  fresh = false;
  constructor(gpu: Gpu, like: LinearInfo, readonly opts: LoraOptions) {
    this.holder = new LoraModule(gpu, { ...like, name: `loradrop.shared.${shapeKey(like)}` }, 1, opts);
  }
}

/** A dropped layer's adapter: LoRA's forward/backward on the shared pair, with its own saved activations and masks. */
export class SharedLoraModule implements AdapterModule {
  private xa: GPUBuffer; // [maxTokens, r] x·A_shᵀ of this layer's input
  private dyB: GPUBuffer; // [maxTokens, r]
  /** lora_dropout, drawn per user layer (its own stream) */
  readonly drop: DropoutMask | null;
  private dropped = false;
  constructor(gpu: Gpu, readonly layer: LinearInfo, maxTokens: number, readonly pair: SharedPair) {
    this.xa = gpu.buffer(maxTokens * pair.holder.r * 4, `${layer.name}.loradrop xA`);
    this.dyB = gpu.buffer(maxTokens * pair.holder.r * 4, `${layer.name}.loradrop dyB`);
    this.drop = dropoutFor(gpu, layer, pair.opts);
  }

  params(): AdapterParam[] {
    return this.pair.holder.params();
  }

  private shape(tokens: number) {
    const h = this.pair.holder;
    return { tokens, inDim: this.layer.inDim, outDim: this.layer.outDim, rank: h.r, scale: h.scale };
  }

  async forward(gpu: Gpu, step: Step, x: GPUBuffer, y: GPUBuffer, tokens: number, training = false): Promise<void> {
    this.pair.fresh = true;
    const h = this.pair.holder;
    this.dropped = training && !!this.drop;
    if (!this.dropped) return loraForward(gpu, step, this.shape(tokens), x, h.A, h.B, this.xa, y);
    const xd = adapterScratch(gpu).get('lora dropout x', tokens * this.layer.inDim); // [T, in]
    await loraDropoutForward(gpu, step, this.shape(tokens), this.drop!, x, h.A, h.B, this.xa, y, xd);
  }

  // the model records every forward of a micro-batch before its backwards: the first backward since a forward
  // writes (or adds, on later micro-batches) and every other user adds: grad = Σ_users
  async backward(gpu: Gpu, step: Step, x: GPUBuffer, dy: GPUBuffer, dx: GPUBuffer, tokens: number, accumulate: boolean): Promise<GPUBuffer> {
    const h = this.pair.holder;
    const add = accumulate || !this.pair.fresh;
    this.pair.fresh = false;
    if (this.dropped) {
      const work = adapterScratch(gpu).get('lora dropout x', tokens * this.layer.inDim); // [T, in]
      await loraDropoutBackward(gpu, step, { ...this.shape(tokens), accumulate: add }, this.drop!, x, h.A, h.B, this.xa, dy, dx, h.gradA, h.gradB, this.dyB, work);
      return dy;
    }
    await loraBackward(gpu, step, { ...this.shape(tokens), accumulateDx: true, accumulate: add }, x, h.A, h.B, this.xa, dy, dx, h.gradA, h.gradB, this.dyB);
    return dy;
  }

  async exportLayer(): Promise<LoraLayerWeights> {
    return { ...(await this.pair.holder.exportLayer()), module: this.layer.name };
  }
}

// ---------- phase 1: sample, importance, selection ----------

/** max(1, round(p·n)) distinct example indices, ascending, seeded (partial Fisher–Yates). */
export function sampleIndices(n: number, fraction: number, seed: number): number[] {
  const k = Math.min(n, Math.max(1, Math.round(fraction * n)));
  const perm = Array.from({ length: n }, (_, i) => i);
  const rand = mulberry32(Math.imul(seed >>> 0, 0x9e3779b1) ^ 0x10ad70);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rand() * (n - i));
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  return perm.slice(0, k).sort((a, b) => a - b);
}

/** Row weights [B·T]: 1 at positions up to the row's last label (their outputs reach the loss), 0 after. */
export function lossRows(labels: Int32Array, B: number, T: number): Float32Array {
  const w = new Float32Array(B * T);
  for (let b = 0; b < B; b++) {
    let last = -1;
    for (let t = 0; t < T; t++) if (labels[b * T + t] !== -100) last = t;
    w.fill(1, b * T, b * T + last + 1);
  }
  return w;
}

/** I = g / Σg; layers by I descending (ties: model order) kept until the cumulative share reaches `threshold`. */
export function selectByImportance(g: ArrayLike<number>, threshold: number): { importance: number[]; kept: number[] } {
  let total = 0;
  for (let i = 0; i < g.length; i++) total += g[i];
  if (!(total > 0) || !Number.isFinite(total))
    throw new Error(`LoRA-drop: the phase-1 LoRA outputs sum to ${total}; raise --lr or --drop-warmup-steps`);
  const importance = Array.from(g, (x) => x / total);
  const order = importance.map((_, i) => i).sort((a, b) => importance[b] - importance[a]);
  const kept: number[] = [];
  let cum = 0;
  for (const i of order) {
    kept.push(i);
    cum += importance[i];
    if (cum >= threshold) break;
  }
  return { importance, kept };
}

/** Phase-1 module in the importance pass: LoRA's forward, then g += Σ_t w_t·‖s·B·(x_t·Aᵀ)‖² into `sum`. */
class MeteredLora implements AdapterModule {
  constructor(readonly lora: LoraModule, private meter: { xa: GPUBuffer; rowWeight: GPUBuffer; rowSq: GPUBuffer }, readonly sum: GPUBuffer) {}
  params() {
    return this.lora.params();
  }
  async forward(gpu: Gpu, step: Step, x: GPUBuffer, y: GPUBuffer, tokens: number, training: boolean): Promise<void> {
    const { lora, meter } = this;
    await lora.forward(gpu, step, x, y, tokens);
    // xa [T, r] = x·Aᵀ again (the module's own copy is private); rowSq [T]; sum += Σ rowSq
    await matmul(gpu, step, { M: tokens, N: lora.r, K: lora.layer.inDim, transB: true }, x, lora.A, meter.xa);
    await lowRankRowSumSq(gpu, step, { tokens, outDim: lora.layer.outDim, rank: lora.r, scale: lora.scale }, meter.xa, lora.B, meter.rowWeight, meter.rowSq);
    await reduceSum(gpu, step, { n: tokens, accumulate: true }, meter.rowSq, this.sum);
  }
  backward(): Promise<GPUBuffer> {
    throw new Error('LoRA-drop: the importance pass is forward only');
  }
}

type DataSource = { count: number; batch: (indices: number[]) => Batch };

/** g_i over the sample (forward only, batches of B rows of T tokens) and the sample's mean loss. */
export async function measureImportance(ctx: MethodContext, loras: LoraModule[], data: DataSource, sample: number[], B: number, T: number) {
  const { gpu, model } = ctx;
  const r = loras[0].r;
  const meter = { xa: gpu.buffer(ctx.maxTokens * r * 4, 'loradrop xA'), rowWeight: gpu.buffer(ctx.maxTokens * 4, 'loradrop row weights'), rowSq: gpu.buffer(ctx.maxTokens * 4, 'loradrop row ‖·‖²') };
  const sums = gpu.buffer(loras.length * 4, 'loradrop importance', new Float32Array(loras.length));
  const metered = loras.map((m, i) => new MeteredLora(m, meter, gpu.buffer(4, `loradrop g ${m.layer.name}`, new Float32Array(1))));
  model.setAdapters(new Map(metered.map((m) => [m.lora.layer.name, m])));
  let tokens = 0;
  for (let start = 0; start < sample.length; start += B) {
    const idx = sample.slice(start, start + B);
    const b = data.batch(idx);
    if (b.ids.length !== idx.length * T) throw new Error(`LoRA-drop: a batch of ${idx.length} has ${b.ids.length} ids, expected ${idx.length}×${T}`);
    tokens += b.nLabelTokens;
    gpu.upload(meter.rowWeight, lossRows(b.labels, idx.length, T)); // queued after the previous step's submit
    model.uploadBatch({ ids: b.ids, labels: b.labels, B: idx.length, T, lossScale: 1 });
    const step = gpu.step('loradrop importance');
    if (start === 0) step.clear(model.lossSum, 0, 4);
    await model.record(step, { backward: false, accumulate: false });
    step.submit();
  }
  const step = gpu.step('loradrop importance gather');
  metered.forEach((m, i) => step.copy(m.sum, 0, sums, i * 4, 4));
  step.submit();
  const g = Float64Array.from(await gpu.readF32(sums, loras.length));
  const [lossSum] = await gpu.readF32(model.lossSum, 1);
  for (const b of [meter.xa, meter.rowWeight, meter.rowSq, sums, ...metered.map((m) => m.sum)]) b.destroy();
  return { g, sampleLoss: tokens ? lossSum / tokens : NaN };
}

// ---------- the run ----------

export interface LoradropReport {
  sample: number[];
  phase1: StepRecord[];
  /** mean loss over the sample after phase 1 */
  sampleLoss: number | null;
  /** layer → normalised importance I (sums to 1) */
  importance: Record<string, number>;
  threshold: number;
  /** layers that keep their own LoRA, by importance descending */
  kept: string[];
  /** shape "out x in" → the layers sharing its pair */
  shared: Record<string, string[]>;
}

export interface LoradropRun extends MethodRun {
  /** printed as {"loradrop": report} with --json */
  report: LoradropReport;
}

/** Phase-2 run: `own` layers keep their LoraModule; `shared` layers (by shape) use one SharedPair each. */
function buildRun(ctx: MethodContext, config: LoraAdapterConfig, layers: LinearInfo[], own: Map<string, LoraModule>, pairs: Map<string, SharedPair>, report: LoradropReport): LoradropRun {
  const modules = new Map<string, AdapterModule>();
  const params: NamedParam[] = [];
  for (const l of layers) {
    const m = own.get(l.name);
    if (m) {
      modules.set(l.name, m);
      params.push(...namedParams(l.name, m.params()));
      continue;
    }
    const pair = pairs.get(shapeKey(l));
    if (!pair) continue; // not adapted
    if (l.name === pair.users[0]) params.push(...namedParams(l.name, pair.holder.params()));
    modules.set(l.name, new SharedLoraModule(ctx.gpu, l, ctx.maxTokens, pair));
  }
  const trainable = params.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
  const sharedUsers = [...pairs.values()].reduce((a, p) => a + p.users.length, 0);
  const c = config;
  return {
    modules,
    params,
    report,
    describe: `LoRA-drop r=${c.r} alpha=${c.alpha}${c.rslora ? ' (rsLoRA)' : ''}: ${own.size} of ${modules.size} layers keep their own LoRA, ${sharedUsers} share ${pairs.size} pair${pairs.size === 1 ? '' : 's'} by shape; ${trainable} trainable parameters`,
    async exportAdapter() {
      const out = new Map<string, LoraLayerWeights>();
      for (const [name, m] of modules) out.set(name, await (m as LoraModule | SharedLoraModule).exportLayer());
      return serializeLoraAdapter({ config, layers: out });
    },
    // with lora_dropout, each layer's masks drawn so far (phase-1 layers count phase 1 too), so resuming draws on
    async saveState() {
      const masks = Object.fromEntries([...modules].flatMap(([n, m]) => ((m as LoraModule | SharedLoraModule).drop ? [[n, (m as LoraModule | SharedLoraModule).drop!.counter]] : [])));
      return { json: { loradrop: report, ...(Object.keys(masks).length ? { dropout_masks: masks } : {}) } as Record<string, unknown>, tensors: {} };
    },
    // the report of the run that wrote the checkpoint; its sharing must be the one this run rebuilt from the file
    async restoreState(json) {
      const saved = json.loradrop as LoradropReport | undefined;
      if (!saved) return;
      const groupsOf = (shared: Record<string, string[]>) => JSON.stringify(Object.values(shared).filter((u) => u.length > 1).map((u) => [...u].sort()).sort());
      if (groupsOf(saved.shared) !== groupsOf(report.shared)) throw new Error('LoRA-drop state: the saved selection does not match the adapter\'s shared layers');
      Object.assign(report, saved);
      const masks = (json.dropout_masks ?? {}) as Record<string, number>;
      for (const [n, m] of modules) {
        const drop = (m as LoraModule | SharedLoraModule).drop;
        if (drop && typeof masks[n] === 'number') drop.counter = masks[n];
      }
    },
  };
}

function logReport(ctx: MethodContext, rep: LoradropReport) {
  const kept = new Set(rep.kept);
  const names = Object.keys(rep.importance).sort((a, b) => rep.importance[b] - rep.importance[a]);
  let cum = 0;
  ctx.log(`LoRA-drop importance (share of Σ‖s·B·A·x‖² over the sample; cumulative):`);
  for (const n of names) ctx.log(`  ${(rep.importance[n] * 100).toFixed(2).padStart(6)}%  ${((cum += rep.importance[n]) * 100).toFixed(1).padStart(5)}%  ${kept.has(n) ? 'kept  ' : 'shared'}  ${n}`);
  const shared = Object.entries(rep.shared).map(([s, u]) => `${s}: ${u.length}`).join(', ');
  const loss = rep.sampleLoss === null ? '' : `; sample loss after phase 1 ${rep.sampleLoss.toFixed(4)}`;
  ctx.log(`LoRA-drop: kept ${rep.kept.length} of ${names.length} layers (threshold ${rep.threshold}); shared pairs ${shared || 'none'}${loss}`);
}

async function create(ctx: MethodContext): Promise<LoradropRun> {
  const { gpu, common, options } = ctx;
  const data = ctx.data, train = ctx.train;
  if (!data || !train) throw new Error('LoRA-drop trains its first phase on the data: it needs the training data and settings');
  if (!ctx.layers.length) throw new Error(`the targets ${common.targets.join(',')} match no linear layer of this model`);
  const p = options['drop-sample'] as number, threshold = options['drop-threshold'] as number;
  const steps1 = (options['drop-warmup-steps'] as number) || Math.ceil(p * common.steps);
  const loraOpts: LoraOptions = { r: common.r, alpha: common.alpha, rslora: common.rslora, seed: common.seed, dropout: common.dropout ?? 0 };

  // phase 1: LoRA on every target, trained on the sample
  const phase1 = new Map(ctx.layers.map((l) => [l.name, new LoraModule(gpu, l, ctx.maxTokens, loraOpts)]));
  const sample = sampleIndices(data.count, p, train.seed);
  const sampleData = { count: sample.length, batch: (idx: number[]) => data.batch(idx.map((i) => sample[i])) };
  ctx.model.setAdapters(phase1);
  const opts1: TrainOptions = {
    ...train, steps: steps1, warmup: Math.floor((train.warmup * steps1) / common.steps), hooks: undefined, groups: undefined, beforeUpdate: undefined,
  };
  ctx.log(`LoRA-drop phase 1: LoRA r=${common.r} on ${phase1.size} layers, ${steps1} steps on ${sample.length} of ${data.count} examples`);
  const trainer1 = new Trainer(gpu, ctx.model, [...phase1].flatMap(([n, m]) => namedParams(n, m.params())), sampleData, opts1);
  const records = await trainer1.run((recs) => {
    for (const r of recs) ctx.log(`LoRA-drop phase 1 step ${r.step}/${steps1}  loss ${r.loss.toFixed(4)}  lr ${r.lr.toExponential(3)}`);
  });

  // importance over the sample with the phase-1 adapters, then the selection
  const loras = [...phase1.values()];
  const { g, sampleLoss } = await measureImportance(ctx, loras, data, sample, train.batch, train.seq);
  const sel = selectByImportance(g, threshold);
  const own = new Map(sel.kept.map((i) => [loras[i].layer.name, loras[i]]));
  const pairs = new Map<string, SharedPair>();
  for (const l of ctx.layers) {
    if (own.has(l.name)) continue;
    const k = shapeKey(l);
    if (!pairs.has(k)) pairs.set(k, new SharedPair(gpu, l, loraOpts));
    pairs.get(k)!.users.push(l.name);
  }
  const report: LoradropReport = {
    sample, phase1: records, sampleLoss: Number.isFinite(sampleLoss) ? sampleLoss : null,
    importance: Object.fromEntries(loras.map((m, i) => [m.layer.name, sel.importance[i]])), threshold,
    kept: [...own.keys()], shared: Object.fromEntries([...pairs].map(([k, pr]) => [k, pr.users])),
  };
  logReport(ctx, report);
  const config: LoraAdapterConfig = {
    r: common.r, alpha: common.alpha, rslora: common.rslora, targetModules: common.targets, fanInFanOut: common.fanInFanOut, baseModel: common.baseModel,
    dropout: loraOpts.dropout,
  };
  const run = buildRun(ctx, config, ctx.layers, own, pairs, report);
  ctx.model.setAdapters(run.modules);
  return run;
}

/** A LoRA-drop file (or checkpoint): per shape, layers with bitwise-identical A and B share one pair again. */
async function load(ctx: MethodContext, files: Parameters<NonNullable<MethodSpec['load']>>[1], where: string): Promise<LoradropRun> {
  const adapter = await readLoraAdapter(files, where);
  const byName = new Map(ctx.layers.map((l) => [l.name, l]));
  const c = adapter.config;
  const groups: { layer: LinearInfo; w: LoraLayerWeights }[][] = []; // layers whose A and B are bitwise equal
  const same = (a: Float32Array, b: Float32Array) => {
    const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
    return x.length === y.length && x.every((v, i) => v === y[i]);
  };
  const order: LinearInfo[] = [];
  for (const [name, w] of adapter.layers) {
    const layer = byName.get(name) ?? byName.get(`transformer.${name}`);
    if (!layer) throw new Error(`${where}: the adapter adapts ${name}, which this model does not have`);
    if (layer.inDim !== w.inDim || layer.outDim !== w.outDim) throw new Error(`${where}: ${name} is [${layer.outDim}, ${layer.inDim}] in the model but [${w.outDim}, ${w.inDim}] in the adapter`);
    const g = groups.find((m) => shapeKey(m[0].layer) === shapeKey(layer) && same(m[0].w.A, w.A) && same(m[0].w.B, w.B));
    if (g) g.push({ layer, w });
    else groups.push([{ layer, w }]);
    order.push(layer);
  }
  const dropout = ctx.common.dropout ?? c.dropout ?? 0; // the run's, else the file's lora_dropout
  const opts = { r: c.r, alpha: c.alpha, rslora: c.rslora, seed: ctx.common.seed, dropout };
  const own = new Map<string, LoraModule>();
  const pairs = new Map<string, SharedPair>();
  for (const members of groups) {
    const { layer, w } = members[0];
    if (members.length === 1) {
      const m = new LoraModule(ctx.gpu, layer, ctx.maxTokens, opts);
      m.importLayer(w);
      own.set(layer.name, m);
      continue;
    }
    if (pairs.has(shapeKey(layer))) throw new Error(`${where}: two groups of identical ${shapeKey(layer)} adapters (LoRA-drop shares one pair per shape)`);
    const pair = new SharedPair(ctx.gpu, layer, opts);
    pair.holder.importLayer(w);
    const names = new Set(members.map((m) => m.layer.name));
    pair.users.push(...ctx.layers.filter((l) => names.has(l.name)).map((l) => l.name)); // model order
    pairs.set(shapeKey(layer), pair);
  }
  const layers = ctx.layers.filter((l) => order.includes(l));
  const report: LoradropReport = {
    sample: [], phase1: [], sampleLoss: null, importance: {}, threshold: NaN,
    kept: [...own.keys()], shared: Object.fromEntries([...pairs].map(([k, pr]) => [k, pr.users])),
  };
  return buildRun(ctx, { ...c, dropout }, layers, own, pairs, report);
}

export const loradropMethod: MethodSpec = {
  name: 'loradrop',
  title: 'LoRA-drop',
  summary: 'Trains LoRA briefly on a sample, keeps its own LoRA only on the layers with the largest LoRA output, and lets the others share one LoRA per shape.',
  options: {
    'drop-sample': { kind: 'number', default: 0.1, above: 0, max: 1, help: 'fraction of the examples phase 1 trains on and measures importance over (at least one)' },
    'drop-warmup-steps': { kind: 'int', default: 0, min: 0, help: 'phase-1 optimizer steps, extra to --steps; 0 = ⌈drop-sample × steps⌉' },
    'drop-threshold': { kind: 'number', default: 0.9, above: 0, max: 1, help: 'keep layers (most important first) until their share of the LoRA output reaches this' },
  },
  // phase 1 trains a full LoRA; phase 2 trains fewer (known only once the importances are measured)
  countParams: (layers, c) => countLoraParams(layers, c.r),
  create,
  // its files are plain LORA adapters: eval/generate read them as LoRA (earlier in the registry); --resume and
  // --init-adapter with --method loradrop continue one as saved (sharing rebuilt from the copies, no phase 1)
  matchesConfig: (c) => isLoraConfig(c, false),
  load,
};
