// A checkpoint with a real model's shapes (bench/models.json) and random weights, built in memory: the
// benchmarks need no download. Llama/Qwen2 layout; 16-bit weights stay 16-bit on the GPU as a real file would.
import { readFileSync } from 'node:fs';
import { normaliseConfig, type ModelConfig } from '../src/engine/model/config';
import type { TensorData } from '../src/engine/io/safetensors';

export function benchConfig(name: string): ModelConfig {
  const all = JSON.parse(readFileSync(new URL('../bench/models.json', import.meta.url), 'utf8'));
  if (!all[name]) throw new Error(`unknown bench model ${name}; known: ${Object.keys(all).join(', ')}`);
  return normaliseConfig(all[name]);
}

/** Deterministic uniform(offset ± scale) numbers (LCG): fast enough for 500 M weights. */
export function makeFiller(seed = 12345) {
  return (n: number, scale: number, offset = 0): Float32Array => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      seed = (seed * 1664525 + 1013904223) >>> 0;
      out[i] = offset + ((seed / 4294967296) * 2 - 1) * scale;
    }
    return out;
  };
}

export function randomTensors(cfg: ModelConfig, dtype: 'F32' | 'BF16', fill = makeFiller()): Map<string, TensorData> {
  const tensor = (shape: number[], scale: number, offset = 0): TensorData => {
    const v = fill(shape.reduce((a, b) => a * b, 1), scale, offset);
    if (dtype === 'F32' || shape.length === 1) return { dtype: 'F32', shape, data: new Uint8Array(v.buffer) };
    const u = new Uint32Array(v.buffer);
    const h = new Uint16Array(v.length);
    for (let i = 0; i < v.length; i++) h[i] = u[i] >>> 16; // bf16 by truncation: fine for random weights
    return { dtype: 'BF16', shape, data: new Uint8Array(h.buffer) };
  };
  const { hidden: C, heads: H, kvHeads: KV, headDim: D, intermediate: I, vocabSize: V } = cfg;
  const t = new Map<string, TensorData>();
  t.set('model.embed_tokens.weight', tensor([V, C], 0.02));
  t.set('model.norm.weight', tensor([C], 0.1, 1));
  if (!cfg.tieEmbeddings) t.set('lm_head.weight', tensor([V, C], 0.02));
  for (let l = 0; l < cfg.layers; l++) {
    const p = `model.layers.${l}`;
    const linear = (n: string, o: number, i: number) => t.set(`${p}.${n}.weight`, tensor([o, i], Math.sqrt(3 / i)));
    t.set(`${p}.input_layernorm.weight`, tensor([C], 0.1, 1));
    t.set(`${p}.post_attention_layernorm.weight`, tensor([C], 0.1, 1));
    linear('self_attn.q_proj', H * D, C);
    linear('self_attn.k_proj', KV * D, C);
    linear('self_attn.v_proj', KV * D, C);
    linear('self_attn.o_proj', C, H * D);
    if (cfg.qkvBias)
      for (const [n, o] of [['q_proj', H * D], ['k_proj', KV * D], ['v_proj', KV * D]] as const) t.set(`${p}.self_attn.${n}.bias`, tensor([o], 0.1));
    linear('mlp.gate_proj', I, C);
    linear('mlp.up_proj', I, C);
    linear('mlp.down_proj', C, I);
  }
  return t;
}
