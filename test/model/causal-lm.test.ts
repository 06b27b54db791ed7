// The whole model against the float64 CPU reference (test/reference/model.ts) on tiny random checkpoints of each
// architecture, with weights stored F32, BF16 or F16: logits, loss (also through the chunked LM head), LoRA
// gradients against finite differences of the reference loss, and greedy generation with the KV cache.
import { describe, expect, it } from 'vitest';
import { CausalLM } from '../../src/engine/model/causal-lm';
import type { ModelConfig } from '../../src/engine/model/config';
import { LoraModule } from '../../src/engine/adapters/lora';
import { f32ToBf16, f32ToF16, tensorToF32 } from '../../src/engine/io/peft';
import { referenceLogits, referenceLoss, type RefLora, type Weights } from '../reference/model';
import { fdGrad } from '../helpers/fd';
import { freshSeed, randn, relL2, testGpu } from '../helpers/gpu';

type Dtype = 'F32' | 'BF16' | 'F16';

function tinyConfig(arch: 'llama' | 'qwen2' | 'gpt2'): ModelConfig {
  const gpt2 = arch === 'gpt2';
  return {
    arch, hfArchitecture: arch, vocabSize: 37, hidden: 16, layers: 2, heads: 4, kvHeads: gpt2 ? 4 : 2, headDim: 4,
    intermediate: gpt2 ? 64 : 24, maxPositions: 32, normEps: 1e-5, ropeTheta: 10000, ropeScaling: null,
    tieEmbeddings: arch !== 'llama', qkvBias: arch !== 'llama', bosTokenId: 1, eosTokenIds: [2],
    activation: gpt2 ? 'gelu_new' : 'silu', norm: gpt2 ? 'layer' : 'rms',
  };
}

/** Random checkpoint: tensors as stored (dtype) and the exact values they decode to, in f64, for the reference. */
function tinyCheckpoint(cfg: ModelConfig, dtype: Dtype, seed: number) {
  const { hidden: C, heads: H, kvHeads: KV, headDim: D, intermediate: I, vocabSize: V } = cfg;
  const shapes: [string, number[], number][] = []; // name, shape, scale
  const mat = (n: string, s: number[]) => shapes.push([n, s, 1 / Math.sqrt(s[s.length - 1])]);
  const vec = (n: string, len: number, scale = 0.2) => shapes.push([n, [len], scale]);
  if (cfg.arch === 'gpt2') {
    mat('transformer.wte.weight', [V, C]); shapes.push(['transformer.wpe.weight', [cfg.maxPositions, C], 0.3]);
    for (let l = 0; l < cfg.layers; l++) {
      const p = `transformer.h.${l}`;
      vec(`${p}.ln_1.weight`, C); vec(`${p}.ln_1.bias`, C); vec(`${p}.ln_2.weight`, C); vec(`${p}.ln_2.bias`, C);
      mat(`${p}.attn.c_attn.weight`, [C, 3 * C]); vec(`${p}.attn.c_attn.bias`, 3 * C);
      mat(`${p}.attn.c_proj.weight`, [C, C]); vec(`${p}.attn.c_proj.bias`, C);
      mat(`${p}.mlp.c_fc.weight`, [C, I]); vec(`${p}.mlp.c_fc.bias`, I);
      mat(`${p}.mlp.c_proj.weight`, [I, C]); vec(`${p}.mlp.c_proj.bias`, C);
    }
    vec('transformer.ln_f.weight', C); vec('transformer.ln_f.bias', C);
  } else {
    mat('model.embed_tokens.weight', [V, C]);
    for (let l = 0; l < cfg.layers; l++) {
      const p = `model.layers.${l}`;
      vec(`${p}.input_layernorm.weight`, C); vec(`${p}.post_attention_layernorm.weight`, C);
      mat(`${p}.self_attn.q_proj.weight`, [H * D, C]); mat(`${p}.self_attn.k_proj.weight`, [KV * D, C]);
      mat(`${p}.self_attn.v_proj.weight`, [KV * D, C]); mat(`${p}.self_attn.o_proj.weight`, [C, H * D]);
      if (cfg.qkvBias) { vec(`${p}.self_attn.q_proj.bias`, H * D); vec(`${p}.self_attn.k_proj.bias`, KV * D); vec(`${p}.self_attn.v_proj.bias`, KV * D); }
      mat(`${p}.mlp.gate_proj.weight`, [I, C]); mat(`${p}.mlp.up_proj.weight`, [I, C]); mat(`${p}.mlp.down_proj.weight`, [C, I]);
    }
    vec('model.norm.weight', C);
    if (!cfg.tieEmbeddings) mat('lm_head.weight', [V, C]);
  }
  const tensors = new Map<string, { dtype: string; shape: number[]; data: Uint8Array }>();
  const ref: Weights = new Map();
  shapes.forEach(([name, shape, scale], k) => {
    const vals = randn(shape.reduce((a, b) => a * b, 1), seed + k, scale);
    // norm weights around 1
    if (/(norm|ln_\d|ln_f)\.weight$/.test(name)) for (let i = 0; i < vals.length; i++) vals[i] += 1;
    const is2d = shape.length === 2;
    const dt: Dtype = is2d ? dtype : 'F32'; // biases/norms as the file stores them too: keep them f32 here
    let data: Uint8Array;
    if (dt === 'F32') data = new Uint8Array(vals.buffer);
    else {
      const h = Uint16Array.from(vals, dt === 'BF16' ? f32ToBf16 : f32ToF16);
      data = new Uint8Array(h.buffer);
    }
    const t = { dtype: dt, shape, data };
    tensors.set(name, t);
    ref.set(name, Float64Array.from(tensorToF32(t as any)));
  });
  return { tensors, ref };
}

const cases: { arch: 'llama' | 'qwen2' | 'gpt2'; dtype: Dtype }[] = [
  { arch: 'llama', dtype: 'F32' },
  { arch: 'qwen2', dtype: 'BF16' },
  { arch: 'gpt2', dtype: 'F16' },
];

describe('CausalLM vs float64 reference', () => {
  for (const { arch, dtype } of cases) {
    it(`${arch} ${dtype}: logits, loss (whole and chunked head), LoRA grads vs finite differences`, async () => {
      const gpu = await testGpu();
      const seed = freshSeed();
      const cfg = tinyConfig(arch);
      const { tensors, ref } = tinyCheckpoint(cfg, dtype, seed);
      const B = 2, T = 5, N = B * T, V = cfg.vocabSize;
      const ids = Uint32Array.from({ length: N }, (_, i) => (i * 7 + seed) % V);
      const labels = Int32Array.from({ length: N }, (_, i) => (i % T === T - 1 || i === 1 ? -100 : (i * 5 + 3) % V));
      const nLabels = labels.filter((l) => l >= 0).length;

      // base model logits
      const model = await CausalLM.load(gpu, { modelConfig: cfg, tensors }, { maxBatch: B, maxSeq: T });
      const got = await model.logits(ids, B, T);
      const want = referenceLogits(cfg, ref, ids, B, T);
      const logitErr = relL2(got, want);
      // LoRA (rank 2) on every linear, B non-zero so every path carries gradient
      const r = 2;
      const mods = new Map<string, LoraModule>();
      const refLora = new Map<string, RefLora>();
      model.linearLayers().forEach((layer, k) => {
        const m = new LoraModule(gpu, layer, N, { r, alpha: 3, seed: seed + k });
        const A = randn(r * layer.inDim, seed + 100 + k, 0.5), Bw = randn(layer.outDim * r, seed + 200 + k, 0.5);
        m.setWeights(A, Bw);
        mods.set(layer.name, m);
        refLora.set(layer.name, { A: Float64Array.from(A), B: Float64Array.from(Bw), r, scale: 1.5 });
      });
      model.setAdapters(mods);
      const gotLora = await model.logits(ids, B, T);
      const wantLora = referenceLogits(cfg, ref, ids, B, T, refLora);
      const loraLogitErr = relL2(gotLora, wantLora);

      // loss + grads, once through the whole-batch head and once with 3-row logit chunks
      const scale = 1 / nLabels;
      const wantLoss = referenceLoss(wantLora, labels, V, scale);
      const chunked = await CausalLM.load(gpu, { modelConfig: cfg, tensors }, { maxBatch: B, maxSeq: T, logitChunkBytes: 3 * V * 4 });
      chunked.setAdapters(mods);
      const results: { loss: number; grads: Float32Array[] }[] = [];
      for (const m of [model, chunked]) {
        gpu.upload(m.lossSum, new Float32Array(1));
        m.uploadBatch({ ids, labels, B, T, lossScale: scale });
        const step = gpu.step();
        await m.record(step, { backward: true, accumulate: false });
        step.submit();
        const loss = (await gpu.readF32(m.lossSum, 1))[0];
        const grads: Float32Array[] = [];
        for (const mod of mods.values()) for (const p of mod.params()) grads.push(await gpu.readF32(p.grad!, p.shape[0] * p.shape[1]));
        results.push({ loss, grads });
      }
      // finite differences of the reference loss w.r.t. every LoRA parameter
      const wantGrads: Float64Array[] = [];
      for (const [name, l] of refLora)
        for (const key of ['A', 'B'] as const) {
          const orig = l[key];
          wantGrads.push(fdGrad((x) => {
            l[key] = x;
            const v = referenceLoss(referenceLogits(cfg, ref, ids, B, T, refLora), labels, V, scale);
            l[key] = orig;
            return v;
          }, orig, 1e-5));
          void name;
        }
      const flat = (a: ArrayLike<number>[]) => Float64Array.from(a.flatMap((x) => Array.from(x)));
      const gradErr = results.map((r) => relL2(flat(r.grads), flat(wantGrads)));
      const lossErr = results.map((r) => Math.abs(r.loss - wantLoss) / wantLoss);
      console.log(`${arch} ${dtype} seed ${seed}: logits relL2 ${logitErr.toExponential(2)}, with LoRA ${loraLogitErr.toExponential(2)}, ` +
        `loss rel ${lossErr.map((e) => e.toExponential(2))}, grads relL2 ${gradErr.map((e) => e.toExponential(2))}`);
      expect(logitErr, `seed ${seed}`).toBeLessThan(1e-5);
      expect(loraLogitErr, `seed ${seed}`).toBeLessThan(1e-5);
      for (const e of lossErr) expect(e, `seed ${seed}`).toBeLessThan(1e-5);
      for (const e of gradErr) expect(e, `seed ${seed}`).toBeLessThan(1e-4);
    });
  }

  for (const arch of ['llama', 'gpt2'] as const) {
    it(`${arch}: greedy generation with the KV cache equals greedy decoding by full recomputation`, async () => {
      const gpu = await testGpu();
      const seed = freshSeed();
      const cfg = tinyConfig(arch);
      const { tensors, ref } = tinyCheckpoint(cfg, 'F32', seed);
      const model = await CausalLM.load(gpu, { modelConfig: cfg, tensors }, { maxBatch: 1, maxSeq: 8 });
      const prompt = [3, 17, 5];
      const steps = 6;
      const got = await model.generate(prompt, { maxNewTokens: steps, greedy: true, eosTokenIds: [] });
      const seq = [...prompt];
      for (let i = 0; i < steps; i++) {
        const lg = referenceLogits(cfg, ref, seq, 1, seq.length);
        const row = lg.subarray((seq.length - 1) * cfg.vocabSize, seq.length * cfg.vocabSize);
        let best = 0;
        for (let j = 1; j < row.length; j++) if (row[j] > row[best]) best = j;
        seq.push(best);
      }
      expect(got, `seed ${seed}`).toEqual(seq.slice(prompt.length));
      // eos stops generation right after it is emitted
      const stopAt = got[2];
      const stopped = await model.generate(prompt, { maxNewTokens: steps, greedy: true, eosTokenIds: [stopAt] });
      expect(stopped).toEqual(got.slice(0, got.indexOf(stopAt) + 1));
    });
  }
});
