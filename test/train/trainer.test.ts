import { describe, expect, it } from 'vitest';
import { Trainer, evaluateLoss, type Batch, type TrainableModel } from '../../src/engine/train/trainer';
import { addInto } from '../../src/kernels/activation';
import type { Gpu, Step } from '../../src/engine/gpu/runtime';
import type { AdapterParam } from '../../src/engine/adapters/types';
import { freshSeed, testGpu } from '../helpers/gpu';
import { lrAtStep } from '../../src/engine/train/schedules';

// A stand-in model with a known "loss": every label token t contributes value(t) = (t mod 7) + 1, and the
// gradient of the single parameter p [3] from one micro-batch is lossScale·[Σ value, #labels, #ids]. It checks
// what the trainer owns: batch order, the loss scale over K micro-batches, accumulate flags, lossSum clearing,
// the loss ring read back in groups.
class MockModel implements TrainableModel {
  lossSum: GPUBuffer;
  private contrib: GPUBuffer;
  private gradContrib: GPUBuffer;
  calls: { ids: number[]; scale: number; accumulate?: boolean; backward?: boolean }[] = [];
  constructor(private gpu: Gpu, readonly param: AdapterParam) {
    this.lossSum = gpu.buffer(4, 'lossSum', new Float32Array([123])); // garbage: the trainer must clear it
    this.contrib = gpu.buffer(4, 'contrib');
    this.gradContrib = gpu.buffer(12, 'grad contrib');
  }
  uploadBatch(b: { ids: Uint32Array; labels: Int32Array; B: number; T: number; lossScale: number }) {
    let sum = 0, n = 0;
    for (const t of b.labels) if (t !== -100) (sum += (t % 7) + 1), n++;
    this.gpu.upload(this.contrib, new Float32Array([sum * b.lossScale]));
    this.gpu.upload(this.gradContrib, new Float32Array([sum * b.lossScale, n * b.lossScale, b.ids.length * b.lossScale]));
    this.calls.push({ ids: Array.from(b.ids), scale: b.lossScale });
  }
  async record(step: Step, o: { backward: boolean; accumulate: boolean }) {
    Object.assign(this.calls[this.calls.length - 1], o);
    await addInto(this.gpu, step, { n: 1 }, this.lossSum, this.contrib);
    if (o.backward) {
      if (o.accumulate) await addInto(this.gpu, step, { n: 3 }, this.param.grad!, this.gradContrib);
      else step.copy(this.gradContrib, 0, this.param.grad!, 0, 12);
    }
  }
}

// example i: ids [i, i+1, …] of length 1 + i % 3 (padded to T), labels = the next id or −100 (already shifted)
function dataset(n: number, T: number) {
  const ex = Array.from({ length: n }, (_, i) => Array.from({ length: 1 + (i % 3) }, (_, k) => 10 * i + k));
  const batch = (idx: number[]): Batch => {
    const ids = new Uint32Array(idx.length * T);
    const labels = new Int32Array(idx.length * T).fill(-100);
    let nl = 0;
    idx.forEach((e, b) => ex[e].forEach((id, t) => {
      ids[b * T + t] = id;
      if (t + 1 < ex[e].length) (labels[b * T + t] = ex[e][t + 1]), nl++;
    }));
    return { ids, labels, nLabelTokens: nl };
  };
  return { count: n, batch, ex };
}

describe('trainer loop', () => {
  it('K micro-batches per step: loss scale 1/(label tokens of the step), accumulate flags, losses read in groups', async () => {
    const gpu = await testGpu();
    const T = 4, B = 2, K = 3, steps = 5, n = 7;
    const param: AdapterParam = { name: 'p', shape: [3], buffer: gpu.buffer(12, 'p', new Float32Array(3)), grad: gpu.buffer(12, 'g') };
    const model = new MockModel(gpu, param);
    const data = dataset(n, T);
    const trainer = new Trainer(gpu, model, [param], data, {
      steps, batch: B, seq: T, lr: 0.1, schedule: 'linear', warmup: 1, gradAccum: K, shuffle: false, seed: 0, readEvery: 2, maxGradNorm: 0,
    });
    const groups: number[][] = [];
    const recs = await trainer.run((r) => groups.push(r.map((x) => x.step)));
    expect(groups).toEqual([[1, 2], [3, 4], [5]]);
    expect(model.calls.length).toBe(steps * K);
    const value = (t: number) => (t % 7) + 1;
    for (let s = 0; s < steps; s++) {
      let sum = 0, tokens = 0;
      for (let k = 0; k < K; k++) {
        const m = s * K + k;
        const idx = [0, 1].map((j) => (m * B + j) % n);
        const c = model.calls[m];
        expect(c.ids).toEqual(Array.from(data.batch(idx).ids));
        expect(c.accumulate).toBe(k > 0);
        expect(c.backward).toBe(true);
        const b = data.batch(idx);
        tokens += b.nLabelTokens;
        for (const t of b.labels) if (t !== -100) sum += value(t);
      }
      for (let k = 0; k < K; k++) expect(model.calls[s * K + k].scale).toBeCloseTo(1 / tokens, 12);
      expect(recs[s].step).toBe(s + 1);
      expect(recs[s].lr).toBeCloseTo(lrAtStep(0.1, { name: 'linear', warmup: 1, total: steps }, s + 1), 12);
      expect(Math.abs(recs[s].loss - sum / tokens) / (sum / tokens)).toBeLessThan(1e-6);
    }
    // the last step's gradient is the SUM over its K micro-batches: ‖g‖² = Σ(Σ_k contrib)²
    const last = [0, 0, 0];
    let tokens = 0;
    const bs = [0, 1, 2].map((k) => data.batch([0, 1].map((j) => (((steps - 1) * K + k) * B + j) % n)));
    for (const b of bs) tokens += b.nLabelTokens;
    for (const b of bs) {
      let sum = 0, nl = 0;
      for (const t of b.labels) if (t !== -100) (sum += value(t)), nl++;
      last[0] += sum / tokens, last[1] += nl / tokens, last[2] += (B * T) / tokens;
    }
    const want = last.reduce((a, x) => a + x * x, 0);
    expect(Math.abs((await gpu.readF32(trainer.optimizer.normSq))[0] - want) / want).toBeLessThan(1e-5);
  });

  it('evaluateLoss: Σ token losses / Σ label tokens over every example, last batch smaller', async () => {
    const gpu = await testGpu();
    const T = 4, n = 5;
    const param: AdapterParam = { name: 'p', shape: [3], buffer: gpu.buffer(12, 'p'), grad: gpu.buffer(12, 'g') };
    const model = new MockModel(gpu, param);
    const data = dataset(n, T);
    const { loss, tokens } = await evaluateLoss(gpu, model, data, 2, T);
    let sum = 0, nl = 0;
    for (const e of data.ex) for (let t = 1; t < e.length; t++) (sum += (e[t] % 7) + 1), nl++;
    expect(tokens).toBe(nl);
    expect(Math.abs(loss - sum / nl) / (sum / nl)).toBeLessThan(1e-6);
    expect(model.calls.map((c) => c.ids.length)).toEqual([8, 8, 4]);
    expect(model.calls.every((c) => c.backward === false && c.scale === 1)).toBe(true);
    void freshSeed;
  });
});
