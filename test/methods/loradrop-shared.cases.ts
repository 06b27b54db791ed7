// LoRA-drop phase 2 on the tiny Llama fixture: a LoRA-drop file (dropped layers hold copies of their shape's shared
// pair) is read back with its sharing; then
//  - the shared pair's gradient (GPU) = ∇ of the float64 reference loss w.r.t. the pair, by central finite
//    differences (the pair perturbed in every user at once); micro-batch accumulation and overwrite;
//  - 3 optimizer steps (2 micro-batches each, clipping, weight decay) replayed step by step against a float64 AdamW
//    whose pair gradients are the CPU sums of its users' own gradients (each user an independent LoRA copy);
//  - the exported PEFT file, evaluated with `weblora eval --adapter`, gives the trained model's loss.
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CausalLM } from '../../src/engine/model/causal-lm';
import { loadModelFiles } from '../../src/engine/io/model-files';
import { memorySource, nodeDirSource } from '../../src/engine/io/files';
import { padIdFor } from '../../src/engine/data';
import { tokenizeDataset } from '../../src/engine/data/dataset';
import { serializeLoraAdapter, readLoraAdapter, tensorToF32, type LoraLayerWeights } from '../../src/engine/io/peft';
import { LoraModule } from '../../src/engine/adapters/lora';
import { resolveOptions, type MethodContext } from '../../src/engine/adapters/method';
import { loradropMethod, type LoradropRun } from '../../src/engine/adapters/loradrop';
import { Trainer, evaluateLoss, type StepRecord } from '../../src/engine/train/trainer';
import { trainOptions } from '../../src/engine/train/session';
import { referenceLogits, referenceLoss, type RefLora, type Weights } from '../reference/model';
import { adamwRefInit, adamwRefStep } from '../reference/optim';
import { fdGrad } from '../helpers/fd';
import { freshSeed, randn, relL2, testGpu } from '../helpers/gpu';
import { cli } from '../cli/fixture-cases';

const FIX = 'test/fixtures';
const TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
const B = 2, T = 24, R = 2, ALPHA = 3, S = ALPHA / R;
const L = (l: number, m: string) => `model.layers.${l}.${m.includes('proj') && /^[qkvo]_/.test(m) ? 'self_attn' : 'mlp'}.${m}`;
// per shape, the layers sharing one pair (the rest keep their own): 40×40 q0 q1 o1 | 20×40 all four | 72×40 gate0 up1
const GROUPS = [[L(0, 'q_proj'), L(1, 'q_proj'), L(1, 'o_proj')], [L(0, 'k_proj'), L(0, 'v_proj'), L(1, 'k_proj'), L(1, 'v_proj')], [L(0, 'gate_proj'), L(1, 'up_proj')]];

describe('LoRA-drop phase 2: the shared pair', () => {
  it('file → sharing; pair gradient = f64 finite differences; 3-step replay vs f64 AdamW on summed user gradients; export = eval', async () => {
    const gpu = await testGpu();
    const seed = freshSeed();
    const files = await loadModelFiles(nodeDirSource(`${FIX}/llama/model`));
    const cfg = files.modelConfig;
    const ref: Weights = new Map([...files.tensors].map(([k, t]) => [k, Float64Array.from(tensorToF32(t))]));
    const model = await CausalLM.load(gpu, files, { maxBatch: B, maxSeq: T });
    const data = tokenizeDataset(readFileSync(`${FIX}/data.jsonl`, 'utf8'), 'data.jsonl', files.tokenizer as any, T, padIdFor(files.tokenizer as any));
    const all = model.linearLayers();

    // a LoRA-drop file: every group's members hold the same (A, B); B ≠ 0 so every path carries gradient
    const layers = new Map<string, LoraLayerWeights>();
    all.forEach((l, k) => {
      const g = GROUPS.findIndex((gr) => gr.includes(l.name));
      const s = g >= 0 ? seed + 1000 * (g + 1) : seed + k;
      layers.set(l.name, { module: l.name, r: R, inDim: l.inDim, outDim: l.outDim, A: randn(R * l.inDim, s, 0.3), B: randn(l.outDim * R, s + 1, 0.3) });
    });
    const file = serializeLoraAdapter({ config: { r: R, alpha: ALPHA, rslora: false, targetModules: TARGETS, fanInFanOut: false, baseModel: 'llama' }, layers });
    const ctx: MethodContext = {
      gpu, model, layers: all, maxTokens: B * T, options: resolveOptions(loradropMethod, {}), log: () => {},
      common: { r: R, alpha: ALPHA, rslora: false, targets: TARGETS, seed: 1, steps: 3, baseModel: 'llama', fanInFanOut: false },
    };
    const run = (await loradropMethod.load!(ctx, memorySource(file), 'mem')) as LoradropRun;
    expect(Object.values(run.report.shared).sort()).toEqual([...GROUPS].sort());
    expect(run.report.kept.sort()).toEqual(all.map((l) => l.name).filter((n) => !GROUPS.flat().includes(n)).sort());
    // one tensor pair per group, keyed by its first user in model order
    for (const g of GROUPS) expect(run.params.filter((p) => p.key.startsWith(g[0] + '.'))).toHaveLength(2);
    expect(run.params).toHaveLength(2 * (all.length - GROUPS.flat().length + GROUPS.length));
    model.setAdapters(run.modules);

    // ---- the pair's gradient vs finite differences of the f64 loss; accumulation over micro-batches ----
    const grads = async () => Promise.all(run.params.map((p) => gpu.readF32(p.grad!, p.shape[0] * p.shape[1])));
    const backward = async (idx: number[], accumulate: boolean) => {
      const b = data.batch(idx);
      model.uploadBatch({ ids: b.ids, labels: b.labels, B, T, lossScale: 1 / b.nLabelTokens });
      const step = gpu.step();
      await model.record(step, { backward: true, accumulate });
      step.submit();
      return b;
    };
    await backward([2, 3], false);
    const G2 = await grads();
    const b1 = await backward([0, 1], false); // overwrites G2 (the first micro-batch of a step)
    const G1 = await grads();
    await backward([2, 3], true);
    const G12 = await grads();
    const flat = (a: ArrayLike<number>[]) => Float64Array.from(a.flatMap((x) => Array.from(x)));
    const accErr = relL2(flat(G12), flat(G1).map((v, i) => v + flat(G2)[i]));
    expect(accErr).toBeLessThan(1e-5);

    const refLora = new Map<string, RefLora>();
    const pairRef: RefLora[] = GROUPS.map((g) => ({ A: Float64Array.from(layers.get(g[0])!.A), B: Float64Array.from(layers.get(g[0])!.B), r: R, scale: S }));
    for (const l of all) {
      const g = GROUPS.findIndex((gr) => gr.includes(l.name));
      const w = layers.get(l.name)!;
      refLora.set(l.name, g >= 0 ? pairRef[g] : { A: Float64Array.from(w.A), B: Float64Array.from(w.B), r: R, scale: S });
    }
    const refLoss = () => referenceLoss(referenceLogits(cfg, ref, b1.ids, B, T, refLora), b1.labels, cfg.vocabSize, 1 / b1.nLabelTokens);
    const fdErrs: number[] = [];
    for (const [g, group] of GROUPS.entries())
      for (const key of ['A', 'B'] as const) {
        const p: { A: Float64Array; B: Float64Array } = pairRef[g], orig = p[key];
        const want = fdGrad((x) => ((p[key] = x), refLoss()), orig, 1e-5);
        p[key] = orig;
        const got = G1[run.params.findIndex((q) => q.key === `${group[0]}.lora_${key}.weight`)];
        fdErrs.push(relL2(got, want));
      }
    for (const e of fdErrs) expect(e, `seed ${seed}`).toBeLessThan(1e-4);

    // ---- 3 steps, step by step, vs f64 AdamW over (own tensors, pairs) with pair grads summed over users ----
    const opts = { ...trainOptions({ method: 'loradrop', steps: 3, batch: B, seq: T, lr: 0.01, schedule: 'linear', warmup: 0, gradAccum: 2, shuffle: false, weightDecay: 0.01, maxGradNorm: 0.5, logEvery: 1 }), hooks: run };
    const trainer = new Trainer(gpu, model, run.params, data, opts);
    const state = adamwRefInit(run.params.map((p) => {
      const [name, which] = [p.key.slice(0, p.key.indexOf('.lora_')), p.key.includes('lora_A') ? 'A' : 'B'] as const;
      return layers.get(name)![which as 'A' | 'B'];
    }));
    // the replay's model: every layer its own LoraModule, set from the f64 state before each micro-batch
    const copies = new Map(all.map((l) => [l.name, new LoraModule(gpu, l, B * T, { r: R, alpha: ALPHA })]));
    const owner = (name: string) => GROUPS.find((g) => g.includes(name))?.[0] ?? name;
    const slot = (name: string, which: 'A' | 'B') => run.params.findIndex((p) => p.key === `${owner(name)}.lora_${which}.weight`);
    const report: string[] = [];
    let singleVsSum = Infinity;
    const oneUser = new Float64Array(R * 20); // the 20×40 pair's first user's own dB over step 1
    for (let s = 1; s <= 3; s++) {
      const recs: StepRecord[] = [];
      trainer.stopped = false;
      await trainer.run((r) => (recs.push(...r), (trainer.stopped = true)));
      expect(recs.map((r) => r.step)).toEqual([s]);
      const got = await Promise.all(run.params.map((p) => gpu.readF32(p.buffer, p.shape[0] * p.shape[1])));
      // reference step s
      model.setAdapters(copies);
      for (const [name, m] of copies) m.setWeights(Float32Array.from(state.params[slot(name, 'A')]), Float32Array.from(state.params[slot(name, 'B')]));
      const batches = [0, 1].map((k) => data.batch(trainer.indices((s - 1) * 2 + k)));
      const total = batches[0].nLabelTokens + batches[1].nLabelTokens;
      const g = run.params.map((p) => new Float64Array(p.shape[0] * p.shape[1]));
      gpu.upload(model.lossSum, new Float32Array(1));
      for (const b of batches) {
        model.uploadBatch({ ids: b.ids, labels: b.labels, B, T, lossScale: 1 / total });
        const step = gpu.step();
        await model.record(step, { backward: true, accumulate: false });
        step.submit();
        for (const [name, m] of copies) {
          const w = [await gpu.readF32(m.gradA), await gpu.readF32(m.gradB)];
          if (s === 1 && name === GROUPS[1][0]) w[1].forEach((v, i) => (oneUser[i] += v));
          (['A', 'B'] as const).forEach((which, j) => w[j].forEach((v, i) => (g[slot(name, which)][i] += v)));
        }
      }
      if (s === 1) {
        // the sum over users is far from any one user's gradient: a pair trained on one user would fail this replay
        singleVsSum = relL2(oneUser, g[slot(GROUPS[1][0], 'B')]);
      }
      const [lossRef] = await gpu.readF32(model.lossSum, 1);
      adamwRefStep(state, g, { lr: trainer.lrAt(s), beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 0.5 });
      model.setAdapters(run.modules);
      const lossErr = Math.abs(recs[0].loss - lossRef) / lossRef;
      const wErr = relL2(flat(got), flat(state.params));
      report.push(`step ${s}: loss ${recs[0].loss.toFixed(5)} rel ${lossErr.toExponential(1)}, weights rel L2 ${wErr.toExponential(1)}`);
      expect(lossErr, `step ${s}`).toBeLessThan(1e-5);
      expect(wErr, `step ${s}`).toBeLessThan(1e-5);
    }
    expect(singleVsSum).toBeGreaterThan(0.1);

    // ---- export: every user of a pair carries the same tensors; eval of the file = the trained model's loss ----
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'weblora-loradrop-')), 'ad');
    mkdirSync(dir);
    for (const [n, bytes] of Object.entries(await run.exportAdapter())) writeFileSync(path.join(dir, n), bytes);
    const back = await readLoraAdapter(nodeDirSource(dir), dir);
    expect([...back.layers.keys()].sort()).toEqual(all.map((l) => l.name).sort());
    for (const g of GROUPS) for (const u of g) expect(Array.from(back.layers.get(u)!.B)).toEqual(Array.from(back.layers.get(g[0])!.B));
    const mine = await evaluateLoss(gpu, model, data, B, T);
    const evalLine = (await cli(['eval', '--model', `${FIX}/llama/model`, '--adapter', dir, '--data', `${FIX}/data.jsonl`, '--seq', String(T), '--json'])).json[0];
    const evalErr = Math.abs(evalLine.loss - mine.loss) / mine.loss;
    console.log(`[loradrop phase 2] seed ${seed}: accumulate rel ${accErr.toExponential(1)}; pair grads vs f64 FD ${fdErrs.map((e) => e.toExponential(1)).join(' ')}; ` +
      `one user vs the sum ${singleVsSum.toFixed(2)}; ${report.join('; ')}; eval of the file ${evalLine.loss.toFixed(6)} vs trained ${mine.loss.toFixed(6)} (rel ${evalErr.toExponential(1)})`);
    expect(evalLine.tokens).toBe(mine.tokens);
    expect(evalErr).toBeLessThan(1e-5);
  }, 900_000);
});
