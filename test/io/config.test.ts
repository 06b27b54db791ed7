import { describe, expect, it } from 'vitest';
import { normaliseConfig } from '../../src/engine/model/config.ts';

// Trimmed copies of real config.json files (values as published on the Hub).
const llama32_1b = {
  architectures: ['LlamaForCausalLM'], attention_bias: false, bos_token_id: 128000, eos_token_id: 128001,
  head_dim: 64, hidden_act: 'silu', hidden_size: 2048, intermediate_size: 8192, max_position_embeddings: 131072,
  model_type: 'llama', num_attention_heads: 32, num_hidden_layers: 16, num_key_value_heads: 8, rms_norm_eps: 1e-5,
  rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  rope_theta: 500000.0, tie_word_embeddings: true, vocab_size: 128256,
};
const qwen25_05b_instruct = {
  architectures: ['Qwen2ForCausalLM'], bos_token_id: 151643, eos_token_id: 151645, hidden_act: 'silu', hidden_size: 896,
  intermediate_size: 4864, max_position_embeddings: 32768, model_type: 'qwen2', num_attention_heads: 14,
  num_hidden_layers: 24, num_key_value_heads: 2, rms_norm_eps: 1e-6, rope_theta: 1000000.0, tie_word_embeddings: true,
  vocab_size: 151936,
};
const gpt2 = {
  activation_function: 'gelu_new', architectures: ['GPT2LMHeadModel'], bos_token_id: 50256, eos_token_id: 50256,
  layer_norm_epsilon: 1e-5, model_type: 'gpt2', n_ctx: 1024, n_embd: 768, n_head: 12, n_layer: 12, n_positions: 1024,
  vocab_size: 50257,
};

describe('normaliseConfig', () => {
  it('Llama 3.2 1B: GQA, explicit head_dim, llama3 rope scaling, tied embeddings when set', () => {
    const c = normaliseConfig(llama32_1b, { eos_token_id: [128001, 128008, 128009] });
    expect(c).toEqual({
      arch: 'llama', hfArchitecture: 'LlamaForCausalLM', vocabSize: 128256, hidden: 2048, layers: 16, heads: 32,
      kvHeads: 8, headDim: 64, intermediate: 8192, maxPositions: 131072, normEps: 1e-5, ropeTheta: 500000,
      ropeScaling: { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
      tieEmbeddings: true, qkvBias: false, bosTokenId: 128000, eosTokenIds: [128001, 128008, 128009],
      activation: 'silu', norm: 'rms',
    });
  });

  it('Llama defaults: untied unless set, kvHeads = heads, head_dim = hidden/heads, legacy rope_scaling "type"', () => {
    const { tie_word_embeddings: _t, num_key_value_heads: _k, head_dim: _h, rope_scaling, ...rest } = llama32_1b;
    const c = normaliseConfig({ ...rest, rope_scaling: { ...rope_scaling, rope_type: undefined, type: 'llama3' }, eos_token_id: [1, 2] });
    expect(c.tieEmbeddings).toBe(false);
    expect(c.kvHeads).toBe(32);
    expect(c.headDim).toBe(64);
    expect(c.ropeScaling?.rope_type).toBe('llama3');
    expect(c.eosTokenIds).toEqual([1, 2]);
    expect(normaliseConfig({ ...rest, rope_scaling: null }).ropeScaling).toBeNull();
    expect(normaliseConfig({ ...rest, rope_scaling: { rope_type: 'default' } }).ropeScaling).toBeNull();
    expect(() => normaliseConfig({ ...rest, rope_scaling: { type: 'yarn', factor: 4 } })).toThrow(/rope_scaling type "yarn" is not supported/);
    expect(normaliseConfig({ ...rest, attention_bias: true }).qkvBias).toBe(true);
    // transformers 5 layout: rope_parameters
    const v5 = normaliseConfig({ ...rest, rope_theta: undefined, rope_parameters: { rope_type: 'default', rope_theta: 1234 } });
    expect(v5.ropeTheta).toBe(1234);
    expect(v5.ropeScaling).toBeNull();
  });

  it('Qwen2.5 0.5B: q/k/v biases, tie per config (default false)', () => {
    const c = normaliseConfig(qwen25_05b_instruct);
    expect(c.arch).toBe('qwen2');
    expect(c.qkvBias).toBe(true);
    expect(c.tieEmbeddings).toBe(true);
    expect(c.headDim).toBe(64);
    expect(c.kvHeads).toBe(2);
    expect(c.ropeTheta).toBe(1000000);
    expect(c.eosTokenIds).toEqual([151645]);
    const { tie_word_embeddings: _t, ...untied } = qwen25_05b_instruct;
    expect(normaliseConfig(untied).tieEmbeddings).toBe(false);
  });

  it('GPT-2: n_* names, n_inner default 4·n_embd, tied, layer norm, gelu_new, learned positions', () => {
    const c = normaliseConfig(gpt2);
    expect(c).toEqual({
      arch: 'gpt2', hfArchitecture: 'GPT2LMHeadModel', vocabSize: 50257, hidden: 768, layers: 12, heads: 12, kvHeads: 12,
      headDim: 64, intermediate: 3072, maxPositions: 1024, normEps: 1e-5, ropeTheta: 10000, ropeScaling: null,
      tieEmbeddings: true, qkvBias: true, bosTokenId: 50256, eosTokenIds: [50256], activation: 'gelu_new', norm: 'layer',
    });
    expect(normaliseConfig({ ...gpt2, n_inner: 1000 }).intermediate).toBe(1000);
    expect(() => normaliseConfig({ ...gpt2, activation_function: 'relu' })).toThrow(/activation_function relu/);
  });

  it('pad token ids, model_type fallback, and errors for unknown architectures or bad shapes', () => {
    expect(normaliseConfig({ ...qwen25_05b_instruct, pad_token_id: 151643 }).padTokenId).toBe(151643);
    const { architectures: _a, ...noArch } = gpt2;
    expect(normaliseConfig(noArch).arch).toBe('gpt2');
    expect(() => normaliseConfig({ ...gpt2, architectures: ['MistralForCausalLM'] })).toThrow(
      /unsupported architecture MistralForCausalLM; supported: LlamaForCausalLM, Qwen2ForCausalLM, GPT2LMHeadModel/,
    );
    expect(() => normaliseConfig({ ...qwen25_05b_instruct, num_key_value_heads: 3 })).toThrow(/not a multiple/);
    expect(() => normaliseConfig({ ...qwen25_05b_instruct, hidden_size: undefined })).toThrow(/missing hidden_size/);
  });
});
