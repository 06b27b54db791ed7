// Delta-LoRA training on a tiny random Llama, step by step against a float64 CPU reference of the algorithm as the
// paper/issue state it: W is a real f64 array updated IN PLACE after every step n > K,
//   W ← W + λ·s·(B_n·A_n − B_{n−1}·A_{n−1}),
// fed with the A, B the GPU's AdamW produced (read back after each step). At every step the GPU's loss must equal the
// reference model's (W, A, B) loss, and the GPU's A/B gradients the finite differences of that loss with W held
// constant (W gets no gradient). Off-by-one variants of the start are shown to be far outside the tolerance.
// Then: the trained model's loss = the exported rank-2r LoRA on the ORIGINAL base = a model whose W was literally
// merged in f32; saveState → restoreState on a fresh model gives the same model.
import { describe, expect, it } from 'vitest';
import { CausalLM } from '../../src/engine/model/causal-lm';
import type { ModelConfig } from '../../src/engine/model/config';
import { deltaloraMethod } from '../../src/engine/adapters/deltalora';
import { loraFromAdapter } from '../../src/engine/adapters/lora';
import { resolveOptions, selectLayers, type MethodContext, type MethodRun } from '../../src/engine/adapters/method';
import { AdamW } from '../../src/engine/train/optimizer';
import { f32ToBf16, mergeLoraWeight, parseLoraAdapter, tensorToF32 } from '../../src/engine/io/peft';
import { referenceLogits, referenceLoss, type RefLora, type Weights } from '../reference/model';
import { fdGrad } from '../helpers/fd';
import { freshSeed, randn, relL2, testGpu } from '../helpers/gpu';
import type { Gpu } from '../../src/engine/gpu/runtime';

type Tensor = { dtype: string; shape: number[]; data: Uint8Array };
const cfg: ModelConfig = {
  arch: 'llama', hfArchitecture: 'LlamaForCausalLM', vocabSize: 37, hidden: 16, layers: 2, heads: 4, kvHeads: 2, headDim: 4,
  intermediate: 24, maxPositions: 32, normEps: 1e-5, ropeTheta: 10000, ropeScaling: null, tieEmbeddings: false,
  qkvBias: false, bosTokenId: 1, eosTokenIds: [2], activation: 'silu', norm: 'rms',
};
const Bsz = 2, T = 5, N = Bsz * T, V = cfg.vocabSize;
const r = 2, alpha = 3, s = alpha / r, lambda = 2, lr = 0.05;
const targets = ['q_proj', 'v_proj', 'down_proj'];

/** Random Llama checkpoint: 2-D weights as `dtype`, norms f32; and the exact values they decode to, in f64. */
function checkpoint(dtype: 'F32' | 'BF16', seed: number) {
  const { hidden: C, heads: H, kvHeads: KV, headDim: D, intermediate: I } = cfg;
  const shapes: [string, number[]][] = [['model.embed_tokens.weight', [V, C]], ['model.norm.weight', [C]], ['lm_head.weight', [V, C]]];
  for (let l = 0; l < cfg.layers; l++) {
    const p = `model.layers.${l}`;
    shapes.push([`${p}.input_layernorm.weight`, [C]], [`${p}.post_attention_layernorm.weight`, [C]],
      [`${p}.self_attn.q_proj.weight`, [H * D, C]], [`${p}.self_attn.k_proj.weight`, [KV * D, C]], [`${p}.self_attn.v_proj.weight`, [KV * D, C]],
      [`${p}.self_attn.o_proj.weight`, [C, H * D]], [`${p}.mlp.gate_proj.weight`, [I, C]], [`${p}.mlp.up_proj.weight`, [I, C]], [`${p}.mlp.down_proj.weight`, [C, I]]);
  }
  const tensors = new Map<string, Tensor>();
  const ref: Weights = new Map();
  shapes.forEach(([name, shape], k) => {
    const vals = randn(shape.reduce((a, b) => a * b, 1), seed + k, shape.length === 2 ? 1 / Math.sqrt(shape[1]) : 0.2);
    if (shape.length === 1) for (let i = 0; i < vals.length; i++) vals[i] += 1;
    const dt = shape.length === 2 ? dtype : 'F32';
    const data = dt === 'F32' ? new Uint8Array(vals.buffer) : new Uint8Array(Uint16Array.from(vals, f32ToBf16).buffer);
    const t = { dtype: dt, shape, data };
    tensors.set(name, t);
    ref.set(name, Float64Array.from(tensorToF32(t as any)));
  });
  return { tensors, ref };
}

function batch(seed: number) {
  const rand = randn(2 * N, seed);
  const ids = Uint32Array.from({ length: N }, (_, i) => Math.floor((rand[i] + 1) * 0.5 * V) % V);
  const labels = Int32Array.from({ length: N }, (_, i) => (i % T === T - 1 ? -100 : Math.floor((rand[N + i] + 1) * 0.5 * V) % V));
  return { ids, labels, n: labels.filter((l) => l >= 0).length };
}

async function newRun(gpu: Gpu, model: CausalLM, steps: number, options: Record<string, number>): Promise<MethodRun> {
  const ctx: MethodContext = {
    gpu, model, layers: selectLayers(model.linearLayers(), targets), maxTokens: N, log: () => {},
    common: { r, alpha, rslora: false, targets, seed: 7, steps, baseModel: 'tiny', fanInFanOut: false },
    options: resolveOptions(deltaloraMethod, options),
  };
  const run = await deltaloraMethod.create(ctx);
  model.setAdapters(run.modules);
  return run;
}

/** Σ-token CE · scale and, with `grads`, backward into the adapter's grads (one submit). */
async function gpuLoss(gpu: Gpu, model: CausalLM, b: ReturnType<typeof batch>, grads: boolean): Promise<number> {
  model.uploadBatch({ ids: b.ids, labels: b.labels, B: Bsz, T, lossScale: 1 / b.n });
  const step = gpu.step('loss');
  step.clear(model.lossSum, 0, 4);
  await model.record(step, { backward: grads, accumulate: false });
  step.submit();
  return (await gpu.readF32(model.lossSum, 1))[0];
}

// W += c·(B1·A1 − B0·A0), W [out, in], A [r, in], B [out, r]
function addDelta(W: Float64Array, c: number, A1: Float32Array, B1: Float32Array, A0: Float32Array, B0: Float32Array) {
  const out = B1.length / r, inD = A1.length / r;
  for (let o = 0; o < out; o++)
    for (let k = 0; k < r; k++)
      for (let i = 0; i < inD; i++) W[o * inD + i] += c * (B1[o * r + k] * A1[k * inD + i] - B0[o * r + k] * A0[k * inD + i]);
}

const cases = [
  // fd: gradients against finite differences (768 reference forwards a step, the slow part) at step 2 (before the
  // snapshot, B ≠ 0), the first step with W moved (K + 2) and the last
  { dtype: 'BF16' as const, steps: 5, start: 2, K: 2, fd: true },
  { dtype: 'F32' as const, steps: 3, start: 500, K: 2, fd: false }, // the default start, clamped to steps − 1
  { dtype: 'F32' as const, steps: 2, start: 0, K: 0, fd: false }, // snapshot of the initial A, B (B = 0)
];

describe('Delta-LoRA vs a float64 in-place reference', () => {
  for (const c of cases) {
    it(`${c.dtype} weights, ${c.steps} steps, --delta-start ${c.start} (K = ${c.K}): loss and grads every step, export, merge, resume`, async () => {
      const gpu = await testGpu();
      const seed = freshSeed();
      const { tensors, ref } = checkpoint(c.dtype, seed);
      const model = await CausalLM.load(gpu, { modelConfig: cfg, tensors }, { maxBatch: Bsz, maxSeq: T });
      const run = await newRun(gpu, model, c.steps, { 'delta-start': c.start, 'delta-lambda': lambda });
      expect(run.describe).toContain(`past ${c.K}`);
      const opt = new AdamW(gpu, run.params, {});
      const layers = [...run.modules.keys()];
      const read = async () => new Map(await Promise.all(layers.map(async (n) => [n, await (run.modules.get(n) as any).getWeights()] as const)));
      // the reference W of each adapted layer, updated in place; and two wrong starts (K − 1, K + 1) to show the test can fail
      const starts = [c.K, c.K - 1, c.K + 1].filter((k) => k >= 0);
      const Ws = starts.map(() => new Map(layers.map((n) => [n, Float64Array.from(ref.get(`${n}.weight`)!)])));
      type AB = { A: ArrayLike<number>; B: ArrayLike<number> };
      const refLoss = (W: Map<string, Float64Array>, ab: Map<string, AB>, b: ReturnType<typeof batch>) => {
        const w: Weights = new Map(ref);
        for (const [n, m] of W) w.set(`${n}.weight`, m);
        const lora = new Map<string, RefLora>([...ab].map(([n, { A, B }]) => [n, { A: Float64Array.from(A), B: Float64Array.from(B), r, scale: s }]));
        return referenceLoss(referenceLogits(cfg, w, b.ids, Bsz, T, lora), b.labels, V, 1 / b.n);
      };
      let prev = await read();
      const lossErr: number[] = [], gradErr: number[] = [], wrongStart: number[] = [];
      for (let n = 1; n <= c.steps; n++) {
        const b = batch(seed + 1000 * n);
        const got = await gpuLoss(gpu, model, b, true);
        const want = refLoss(Ws[0], prev, b);
        lossErr.push(Math.abs(got - want) / want);
        for (let v = 1; v < starts.length; v++) wrongStart.push(Math.abs(refLoss(Ws[v], prev, b) - want) / want);
        // finite differences of the reference loss in every A and B, W held constant
        const gotG: number[] = [], wantG: number[] = [];
        const fd = c.fd && (n === 2 || n >= c.K + 2);
        if (fd) for (const name of layers) {
          const mod = run.modules.get(name)!;
          for (const [key, p] of [['A', mod.params()[0]], ['B', mod.params()[1]]] as const) {
            gotG.push(...(await gpu.readF32(p.grad!, p.shape[0] * p.shape[1])));
            const orig = prev.get(name)![key];
            wantG.push(...fdGrad((x) => {
              const ab = new Map<string, AB>(prev);
              ab.set(name, { ...prev.get(name)!, [key]: x }); // f64: an f32 copy would round the ±h away
              return refLoss(Ws[0], ab, b);
            }, orig, 1e-5));
          }
        }
        if (fd) gradErr.push(relL2(gotG, wantG));
        // the optimizer step and the method's hook, as the trainer records them
        const step = gpu.step(`opt ${n}`);
        await opt.record(step, lr);
        await run.afterOptimizer!(step, n);
        step.submit();
        const next = await read();
        starts.forEach((k, v) => {
          if (n > k) for (const name of layers) addDelta(Ws[v].get(name)!, lambda * s, next.get(name)!.A, next.get(name)!.B, prev.get(name)!.A, prev.get(name)!.B);
        });
        prev = next;
      }

      // the trained model on a held-out batch: GPU = reference (in-place W, final A, B)
      const evalB = batch(seed + 77);
      const trained = await gpuLoss(gpu, model, evalB, false);
      const wantTrained = refLoss(Ws[0], prev, evalB);
      // the exported rank-2r LoRA on a fresh copy of the original base
      const files = await run.exportAdapter();
      const adapter = parseLoraAdapter(new TextDecoder().decode(files['adapter_config.json']), files['adapter_model.safetensors']);
      expect(adapter.config.r).toBe(2 * r);
      expect(adapter.config.alpha).toBe(2 * alpha);
      const base2 = await CausalLM.load(gpu, { modelConfig: cfg, tensors }, { maxBatch: Bsz, maxSeq: T });
      base2.setAdapters(loraFromAdapter(gpu, base2.linearLayers(), adapter, N));
      const viaExport = await gpuLoss(gpu, base2, evalB, false);
      // the export merged into f32 weights: W₀ + λ·s·(B_T A_T − B_K A_K) + s·B_T A_T, literally
      const f32Tensors = new Map([...tensors].map(([k, t]) => [k, { dtype: 'F32', shape: t.shape, data: new Uint8Array(tensorToF32(t as any).buffer) }]));
      for (const [name, l] of adapter.layers) {
        const t = f32Tensors.get(`${name}.weight`)!;
        t.data = mergeLoraWeight(t as any, l, s, false);
      }
      const merged = await CausalLM.load(gpu, { modelConfig: cfg, tensors: f32Tensors }, { maxBatch: Bsz, maxSeq: T });
      const viaMerge = await gpuLoss(gpu, merged, evalB, false);
      // resume: the method's state restored on a fresh model and run (A, B from the state, not the rank-2r file)
      const state = await run.saveState!();
      const base3 = await CausalLM.load(gpu, { modelConfig: cfg, tensors }, { maxBatch: Bsz, maxSeq: T });
      const run3 = await newRun(gpu, base3, c.steps, { 'delta-start': c.start, 'delta-lambda': lambda });
      await run3.restoreState!(JSON.parse(JSON.stringify(state.json)), state.tensors);
      const viaResume = await gpuLoss(gpu, base3, evalB, false);
      // a run past K that lost its snapshot refuses to go on
      const base4 = await CausalLM.load(gpu, { modelConfig: cfg, tensors }, { maxBatch: Bsz, maxSeq: T });
      const run4 = await newRun(gpu, base4, c.steps, { 'delta-start': c.start, 'delta-lambda': lambda });
      if (c.K > 0) await expect(run4.afterOptimizer!(gpu.step('x'), c.K + 1)).rejects.toThrow(/no snapshot/);
      // plain LoRA (W₀ never updated) is far from the trained model
      const plainLoRA = refLoss(new Map(), prev, evalB);

      const e = (x: number) => x.toExponential(2);
      console.log(`${c.dtype} K=${c.K} seed ${seed}: loss rel ${lossErr.map(e)}, grads relL2 ${gradErr.map(e)}; wrong start off by ${wrongStart.map(e)}; ` +
        `trained ${trained} (export ${viaExport}, f32 merge ${viaMerge}, plain LoRA ${plainLoRA}) vs ref ${e(Math.abs(trained - wantTrained) / wantTrained)}, export ${e(Math.abs(viaExport - trained) / trained)}, ` +
        `f32 merge ${e(Math.abs(viaMerge - trained) / trained)}, resume ${e(Math.abs(viaResume - trained) / trained)}, plain LoRA off by ${e(Math.abs(plainLoRA - wantTrained) / wantTrained)}`);
      for (const x of lossErr) expect(x, `seed ${seed}`).toBeLessThan(1e-5);
      for (const x of gradErr) expect(x, `seed ${seed}`).toBeLessThan(1e-4);
      expect(Math.abs(trained - wantTrained) / wantTrained, `seed ${seed}`).toBeLessThan(1e-5);
      expect(Math.abs(viaExport - trained) / trained, `seed ${seed}`).toBeLessThan(1e-5);
      expect(Math.abs(viaMerge - trained) / trained, `seed ${seed}`).toBeLessThan(1e-5);
      expect(Math.abs(viaResume - trained) / trained, `seed ${seed}`).toBeLessThan(1e-6);
      // the checks can fail: a start one step off, or no W update at all, moves the loss well beyond the 1e-5 above
      // (measured 4.6e-4 to 4e-2 over random seeds; the right start agrees to ~1e-7)
      expect(Math.max(...wrongStart), `seed ${seed}`).toBeGreaterThan(1e-4);
      expect(Math.abs(plainLoRA - wantTrained) / wantTrained, `seed ${seed}`).toBeGreaterThan(1e-4);
    }, 300_000);
  }
});
