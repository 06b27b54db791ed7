// Hugging Face config.json → one normalised ModelConfig for the three architectures the engine runs.
// Defaults follow transformers' LlamaConfig, Qwen2Config and GPT2Config so a config that omits a field means
// exactly what it means in PyTorch.

export type Arch = 'llama' | 'qwen2' | 'gpt2';

export interface Llama3RopeScaling {
  rope_type: 'llama3';
  factor: number;
  low_freq_factor: number;
  high_freq_factor: number;
  original_max_position_embeddings: number;
}

export interface ModelConfig {
  arch: Arch;
  /** The class named in config.architectures (or implied by model_type). */
  hfArchitecture: string;
  vocabSize: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  intermediate: number;
  maxPositions: number;
  normEps: number;
  /** RoPE base; unused by GPT-2 (learned positions), kept at 10000 there. */
  ropeTheta: number;
  ropeScaling: Llama3RopeScaling | null;
  tieEmbeddings: boolean;
  /** q/k/v projections have biases (Qwen2 always, GPT-2's c_attn always, Llama when attention_bias). */
  qkvBias: boolean;
  bosTokenId: number | null;
  eosTokenIds: number[];
  padTokenId?: number;
  activation: 'silu' | 'gelu_new';
  norm: 'rms' | 'layer';
}

export const SUPPORTED_ARCHITECTURES: Record<string, Arch> = {
  LlamaForCausalLM: 'llama',
  Qwen2ForCausalLM: 'qwen2',
  GPT2LMHeadModel: 'gpt2',
};
const MODEL_TYPES: Record<string, string> = { llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM', gpt2: 'GPT2LMHeadModel' };

type Json = Record<string, unknown>;

function tokenIds(v: unknown): number[] {
  if (v === null || v === undefined) return [];
  const list = Array.isArray(v) ? v : [v];
  return list.filter((x): x is number => typeof x === 'number' && Number.isInteger(x));
}

/**
 * Normalise a raw config.json. `generationConfig` (generation_config.json, when present) contributes its
 * eos_token_id(s) too: chat models often list their end-of-turn token only there.
 */
export function normaliseConfig(config: Json, generationConfig?: Json | null): ModelConfig {
  const archs = Array.isArray(config.architectures) ? (config.architectures as string[]) : [];
  let hfArchitecture = archs.find((a) => a in SUPPORTED_ARCHITECTURES);
  if (!hfArchitecture && archs.length === 0 && typeof config.model_type === 'string') hfArchitecture = MODEL_TYPES[config.model_type];
  if (!hfArchitecture) {
    const named = archs.length ? archs.join(', ') : `model_type ${JSON.stringify(config.model_type ?? null)}`;
    throw new Error(`config.json: unsupported architecture ${named}; supported: ${Object.keys(SUPPORTED_ARCHITECTURES).join(', ')}`);
  }
  const arch = SUPPORTED_ARCHITECTURES[hfArchitecture];

  const num = (key: string, fallback?: number): number => {
    const v = config[key];
    if (v === undefined || v === null) {
      if (fallback === undefined) throw new Error(`config.json (${hfArchitecture}): missing ${key}`);
      return fallback;
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`config.json (${hfArchitecture}): ${key} is not a number`);
    return v;
  };
  const eosTokenIds = [...new Set([...tokenIds(config.eos_token_id), ...tokenIds(generationConfig?.eos_token_id)])];
  const bos = tokenIds(config.bos_token_id)[0] ?? tokenIds(generationConfig?.bos_token_id)[0] ?? null;
  const pad = tokenIds(config.pad_token_id)[0] ?? tokenIds(generationConfig?.pad_token_id)[0];

  let out: ModelConfig;
  if (arch === 'gpt2') {
    const hidden = num('n_embd', 768);
    const heads = num('n_head', 12);
    const act = (config.activation_function as string | undefined) ?? 'gelu_new';
    if (!['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast'].includes(act)) {
      throw new Error(`config.json (GPT2LMHeadModel): activation_function ${act} is not supported (only the tanh GELU, gelu_new)`);
    }
    out = {
      arch, hfArchitecture,
      vocabSize: num('vocab_size', 50257),
      hidden,
      layers: num('n_layer', 12),
      heads,
      kvHeads: heads,
      headDim: hidden / heads,
      intermediate: num('n_inner', 4 * hidden),
      maxPositions: num('n_positions', 1024),
      normEps: num('layer_norm_epsilon', 1e-5),
      ropeTheta: 10000,
      ropeScaling: null,
      tieEmbeddings: (config.tie_word_embeddings as boolean | undefined) ?? true,
      qkvBias: true,
      bosTokenId: bos ?? 50256,
      eosTokenIds: eosTokenIds.length ? eosTokenIds : [50256],
      activation: 'gelu_new',
      norm: 'layer',
    };
  } else {
    const hidden = num('hidden_size');
    const heads = num('num_attention_heads');
    const act = (config.hidden_act as string | undefined) ?? 'silu';
    if (act !== 'silu' && act !== 'swish') throw new Error(`config.json (${hfArchitecture}): hidden_act ${act} is not supported (only silu)`);
    // transformers ≥ 5 moves rope_theta/rope_scaling into rope_parameters; accept both.
    const ropeParams = (config.rope_parameters ?? null) as Json | null;
    const ropeTheta = (ropeParams?.rope_theta as number | undefined) ?? num('rope_theta', 10000);
    out = {
      arch, hfArchitecture,
      vocabSize: num('vocab_size'),
      hidden,
      layers: num('num_hidden_layers'),
      heads,
      kvHeads: num('num_key_value_heads', heads),
      headDim: num('head_dim', hidden / heads),
      intermediate: num('intermediate_size'),
      maxPositions: num('max_position_embeddings', arch === 'qwen2' ? 32768 : 2048),
      normEps: num('rms_norm_eps', 1e-6),
      ropeTheta,
      ropeScaling: parseRopeScaling((config.rope_scaling ?? ropeParams ?? null) as Json | null, hfArchitecture),
      tieEmbeddings: (config.tie_word_embeddings as boolean | undefined) ?? false,
      qkvBias: arch === 'qwen2' ? true : ((config.attention_bias as boolean | undefined) ?? false),
      bosTokenId: bos,
      eosTokenIds,
      activation: 'silu',
      norm: 'rms',
    };
  }
  if (pad !== undefined) out.padTokenId = pad;
  for (const [k, v] of Object.entries(out)) {
    if (typeof v === 'number' && !(Number.isFinite(v) && v >= 0)) throw new Error(`config.json (${hfArchitecture}): ${k} = ${v} is invalid`);
  }
  for (const k of ['headDim', 'heads', 'kvHeads', 'hidden', 'layers', 'intermediate', 'vocabSize'] as const) {
    if (!Number.isInteger(out[k]) || out[k] <= 0) throw new Error(`config.json (${hfArchitecture}): ${k} = ${out[k]} is not a positive integer`);
  }
  if (out.heads % out.kvHeads !== 0) {
    throw new Error(`config.json (${hfArchitecture}): num_attention_heads ${out.heads} is not a multiple of num_key_value_heads ${out.kvHeads}`);
  }
  if (out.arch !== 'gpt2' && out.headDim % 2 !== 0) throw new Error(`config.json (${hfArchitecture}): head_dim ${out.headDim} must be even for RoPE`);
  return out;
}

function parseRopeScaling(rs: Json | null, hfArchitecture: string): Llama3RopeScaling | null {
  if (!rs) return null;
  const type = (rs.rope_type ?? rs.type ?? 'default') as string;
  if (type === 'default') return null;
  if (type !== 'llama3') {
    throw new Error(`config.json (${hfArchitecture}): rope_scaling type ${JSON.stringify(type)} is not supported (supported: default, llama3)`);
  }
  const need = (k: string): number => {
    const v = rs[k];
    if (typeof v !== 'number') throw new Error(`config.json (${hfArchitecture}): rope_scaling llama3 is missing ${k}`);
    return v;
  };
  return {
    rope_type: 'llama3',
    factor: need('factor'),
    low_freq_factor: need('low_freq_factor'),
    high_freq_factor: need('high_freq_factor'),
    original_max_position_embeddings: need('original_max_position_embeddings'),
  };
}
