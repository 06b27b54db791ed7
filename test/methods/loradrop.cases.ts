// LoRA-drop phase 1 and the selection on the tiny Llama fixture (2 layers × 7 linears, shapes 40×40, 20×40, 72×40,
// 40×72), against float64 CPU re-computations:
//  - phase 1 is plain LoRA (--method lora's init) trained on the seeded sample with the compressed schedule;
//  - each layer's importance Σ‖s·B·A·x_t‖² over the sample's loss-reaching tokens, recomputed in f64 from A, B read
//    back and the layer inputs x captured on the GPU, normalised;
//  - the selection (descending, cumulative share ≥ threshold) re-derived in f64; phase 2's initial state.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { CausalLM } from '../../src/engine/model/causal-lm';
import { loadModelFiles } from '../../src/engine/io/model-files';
import { nodeDirSource } from '../../src/engine/io/files';
import { padIdFor } from '../../src/engine/data';
import { tokenizeDataset } from '../../src/engine/data/dataset';
import { LoraModule } from '../../src/engine/adapters/lora';
import type { AdapterModule } from '../../src/engine/adapters/types';
import type { Gpu, Step } from '../../src/engine/gpu/runtime';
import { resolveOptions, selectLayers, namedParams, type MethodContext } from '../../src/engine/adapters/method';
import { loradropMethod, sampleIndices, SharedLoraModule, type LoradropRun } from '../../src/engine/adapters/loradrop';
import { Trainer } from '../../src/engine/train/trainer';
import { trainOptions } from '../../src/engine/train/session';
import { relL2, testGpu } from '../helpers/gpu';

const FIX = 'test/fixtures';
const TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
const B = 2, T = 24, R = 4, ALPHA = 8;

async function setup() {
  const gpu = await testGpu();
  const files = await loadModelFiles(nodeDirSource(`${FIX}/llama/model`));
  const model = await CausalLM.load(gpu, files, { maxBatch: B, maxSeq: T });
  const data = tokenizeDataset(readFileSync(`${FIX}/data.jsonl`, 'utf8'), 'data.jsonl', files.tokenizer as any, T, padIdFor(files.tokenizer as any));
  return { gpu, model, data };
}

/** Keeps a copy of its layer's input x [tokens, in] from every forward (read back after the step). */
class Capture implements AdapterModule {
  copies: GPUBuffer[] = [];
  constructor(readonly lora: LoraModule) {}
  params() { return this.lora.params(); }
  async forward(gpu: Gpu, step: Step, x: GPUBuffer, y: GPUBuffer, tokens: number) {
    await this.lora.forward(gpu, step, x, y, tokens);
    const c = gpu.buffer(tokens * this.lora.layer.inDim * 4, 'x copy');
    step.copy(x, 0, c, 0, c.size);
    this.copies.push(c);
  }
  backward(): Promise<GPUBuffer> { throw new Error('forward only'); }
}

describe('LoRA-drop phase 1, importance and selection', () => {
  it('phase 1 = LoRA on the sample; importances = f64 Σ‖s·B·A·x‖² over loss-reaching tokens; f64 selection; phase-2 init', async () => {
    const { gpu, model, data } = await setup();
    const layers = selectLayers(model.linearLayers(), TARGETS);
    const settings = { method: 'loradrop' as const, steps: 6, batch: B, seq: T, lr: 0.02, schedule: 'linear' as const, warmup: 2, seed: 5, maxGradNorm: 1 };
    const train = trainOptions(settings);
    const options = resolveOptions(loradropMethod, { 'drop-sample': 0.5, 'drop-threshold': 0.8 });
    const adapterSets: Map<string, AdapterModule>[] = [];
    const spy = {
      linearLayers: () => model.linearLayers(),
      setAdapters: (m: Map<string, AdapterModule>) => (adapterSets.push(m), model.setAdapters(m)),
      uploadBatch: (b: any) => model.uploadBatch(b),
      record: (s: Step, o: any) => model.record(s, o),
      get lossSum() { return model.lossSum; },
    };
    const logs: string[] = [];
    const ctx: MethodContext = {
      gpu, model: spy, layers, maxTokens: B * T, options, data, train, log: (m) => logs.push(m),
      common: { r: R, alpha: ALPHA, rslora: false, targets: TARGETS, seed: settings.seed, steps: settings.steps, baseModel: 'llama', fanInFanOut: false },
    };
    const run = (await loradropMethod.create(ctx)) as LoradropRun;
    const rep = run.report;
    const phase1 = adapterSets[0] as Map<string, LoraModule>;
    expect([...phase1.keys()]).toEqual(layers.map((l) => l.name));

    // the sample: round(0.5·6) = 3 distinct examples, seeded; phase 1 = ⌈0.5·6⌉ = 3 steps (extra to --steps)
    expect(rep.sample).toEqual(sampleIndices(6, 0.5, settings.seed));
    expect(new Set(rep.sample).size).toBe(3);
    expect(sampleIndices(6, 0.5, settings.seed + 1)).not.toEqual(rep.sample); // (seeds 5 and 6 differ here)
    expect(sampleIndices(1000, 0.0001, 1)).toHaveLength(1);
    expect(rep.phase1.map((r) => r.step)).toEqual([1, 2, 3]);

    // phase 1 replayed as a plain LoRA run (LoraModule, same seed) on the sample: same losses and weights
    const sampleData = { count: 3, batch: (idx: number[]) => data.batch(idx.map((i) => rep.sample[i])) };
    const plain = new Map(layers.map((l) => [l.name, new LoraModule(gpu, l, B * T, { r: R, alpha: ALPHA, seed: settings.seed })]));
    model.setAdapters(plain);
    const recs = await new Trainer(gpu, model, [...plain].flatMap(([n, m]) => namedParams(n, m.params())), sampleData, { ...train, steps: 3, warmup: 1 }).run();
    expect(recs.map((r) => r.lr)).toEqual(rep.phase1.map((r) => r.lr));
    expect(relL2(recs.map((r) => r.loss), rep.phase1.map((r) => r.loss))).toBeLessThan(1e-6);
    const w1 = new Map<string, { A: Float32Array; B: Float32Array }>();
    for (const [name, m] of phase1) {
      w1.set(name, await m.getWeights());
      const p = await plain.get(name)!.getWeights();
      expect(relL2(w1.get(name)!.B, p.B), name).toBeLessThan(1e-5);
      expect(relL2(w1.get(name)!.A, p.A), name).toBeLessThan(1e-5);
    }

    // importance in f64: layer inputs captured with the phase-1 modules over the sample, batches of B
    const caps = new Map([...phase1].map(([n, m]) => [n, new Capture(m)]));
    model.setAdapters(caps);
    const g = new Float64Array(layers.length), gAll = new Float64Array(layers.length);
    for (let start = 0; start < rep.sample.length; start += B) {
      const idx = rep.sample.slice(start, start + B);
      const b = data.batch(idx);
      model.uploadBatch({ ids: b.ids, labels: b.labels, B: idx.length, T, lossScale: 1 });
      const step = gpu.step();
      await model.record(step, { backward: false, accumulate: false });
      step.submit();
      // the rows that reach the loss: positions up to each row's last label
      const counts = new Float64Array(idx.length * T);
      for (let r = 0; r < idx.length; r++) {
        let last = -1;
        for (let t = 0; t < T; t++) if (b.labels[r * T + t] >= 0) last = t;
        for (let t = 0; t <= last; t++) counts[r * T + t] = 1;
      }
      for (const [i, l] of layers.entries()) {
        const c = caps.get(l.name)!;
        const x = await gpu.readF32(c.copies.pop()!);
        const { A, B: Bw } = w1.get(l.name)!;
        for (let t = 0; t < idx.length * T; t++) {
          const xa = new Float64Array(R);
          for (let k = 0; k < R; k++) for (let j = 0; j < l.inDim; j++) xa[k] += A[k * l.inDim + j] * x[t * l.inDim + j];
          let sq = 0;
          for (let o = 0; o < l.outDim; o++) {
            let z = 0;
            for (let k = 0; k < R; k++) z += Bw[o * R + k] * xa[k];
            sq += ((ALPHA / R) * z) ** 2;
          }
          g[i] += counts[t] * sq;
          gAll[i] += sq;
        }
      }
    }
    const norm = (v: Float64Array) => Array.from(v, (x) => x / v.reduce((a, b) => a + b, 0));
    const want = norm(g);
    const got = layers.map((l) => rep.importance[l.name]);
    const err = relL2(got, want);
    // padding is really excluded: counting every row would give other importances
    const withPadding = relL2(norm(gAll), want);
    expect(err).toBeLessThan(1e-5);
    expect(withPadding).toBeGreaterThan(1e-3);

    // selection in f64: descending, until the cumulative share reaches the threshold
    const order = want.map((_, i) => i).sort((a, b) => want[b] - want[a]);
    const kept: string[] = [];
    let cum = 0;
    for (const i of order) {
      kept.push(layers[i].name);
      if ((cum += want[i]) >= 0.8) break;
    }
    expect(Math.abs(cum - 0.8)).toBeGreaterThan(1e-4); // no near-tie at the threshold
    expect(rep.kept).toEqual(kept);
    expect(kept.length).toBeLessThan(layers.length);
    const dropped = layers.filter((l) => !kept.includes(l.name));
    const shapes = [...new Set(dropped.map((l) => `${l.outDim}x${l.inDim}`))];
    expect(Object.keys(rep.shared).sort()).toEqual(shapes.sort());
    for (const s of shapes) expect(rep.shared[s]).toEqual(dropped.filter((l) => `${l.outDim}x${l.inDim}` === s).map((l) => l.name));

    // phase 2: kept layers continue their phase-1 modules; the others share a new pair per shape (B = 0, A in ±1/√in)
    expect(adapterSets[adapterSets.length - 1]).toBe(run.modules);
    for (const name of kept) expect(run.modules.get(name)).toBe(phase1.get(name));
    const pairs = new Set<unknown>();
    for (const l of dropped) {
      const m = run.modules.get(l.name) as SharedLoraModule;
      expect(m).toBeInstanceOf(SharedLoraModule);
      pairs.add(m.pair);
      const w = await m.pair.holder.getWeights();
      expect(w.B.every((v) => v === 0)).toBe(true);
      expect(Math.max(...w.A.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(l.inDim));
      expect(relL2(w.A, w1.get(l.name)!.A)).toBeGreaterThan(0.5); // fresh, not the layer's phase-1 A
    }
    expect(pairs.size).toBe(shapes.length);
    const count = kept.reduce((a, n) => a + R * (layers.find((l) => l.name === n)!.inDim + layers.find((l) => l.name === n)!.outDim), 0) +
      shapes.reduce((a, s) => a + R * s.split('x').map(Number).reduce((x, y) => x + y, 0), 0);
    expect(run.params.reduce((a, p) => a + p.shape[0] * p.shape[1], 0)).toBe(count);
    expect(new Set(run.params.map((p) => p.key)).size).toBe(run.params.length);
    console.log(`[loradrop] importance rel L2 vs f64 ${err.toExponential(2)} (with padding rows it would be ${withPadding.toExponential(2)} off); ` +
      `kept ${kept.length}/${layers.length} (cum ${cum.toFixed(4)}), ${shapes.length} shared pairs; phase-1 losses ${rep.phase1.map((r) => r.loss.toFixed(4)).join(' ')}`);
    expect(logs.some((l) => /kept \d+ of 14 layers/.test(l))).toBe(true);
  }, 900_000);
});
