// A Hugging Face model folder → config, normalised ModelConfig, all weights (shards merged) and the tokenizer.
import type { FileSource } from './files.ts';
import { parseSafetensors, type TensorData } from './safetensors.ts';
import { loadTokenizer, type TextTokenizer } from './tokenizer.ts';
import { normaliseConfig, type ModelConfig } from '../model/config.ts';

export interface ModelFiles {
  /** Raw config.json. */
  config: Record<string, unknown>;
  modelConfig: ModelConfig;
  /** Every weight by its HF name; GPT-2 names always carry the `transformer.` prefix (except lm_head). */
  tensors: Map<string, TensorData>;
  tokenizer: TextTokenizer;
  generationConfig?: Record<string, unknown>;
  /** The safetensors files read, in order. */
  weightFiles: string[];
}

async function readJson(src: FileSource, name: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await src.readText(name);
  } catch (e) {
    throw new Error(`${name}: ${(e as Error).message}`);
  }
  try {
    const v = JSON.parse(text);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${name}: invalid JSON (${(e as Error).message})`);
  }
}

/**
 * GPT-2 checkpoints name weights with or without `transformer.`; the engine always uses the prefixed form
 * (as GPT2LMHeadModel's state_dict and PEFT keys do). The causal-mask buffers `h.{i}.attn.bias` /
 * `.attn.masked_bias` are not weights and are dropped.
 */
export function normaliseGpt2Names(tensors: Map<string, TensorData>): Map<string, TensorData> {
  const out = new Map<string, TensorData>();
  for (const [name, t] of tensors) {
    if (/\.attn\.(masked_)?bias$/.test(name)) continue;
    const full = name.startsWith('transformer.') || name.startsWith('lm_head.') ? name : `transformer.${name}`;
    if (out.has(full)) throw new Error(`weights: ${full} appears both with and without the transformer. prefix`);
    out.set(full, t);
  }
  return out;
}

export async function loadModelFiles(src: FileSource): Promise<ModelFiles> {
  const names = new Set(await src.list());
  if (!names.has('config.json')) throw new Error('config.json not found in the model folder');
  const config = await readJson(src, 'config.json');
  const generationConfig = names.has('generation_config.json') ? await readJson(src, 'generation_config.json') : undefined;
  const modelConfig = normaliseConfig(config, generationConfig);

  // Which files hold the weights.
  let weightFiles: string[];
  let weightMap: Record<string, string> | null = null;
  if (names.has('model.safetensors.index.json')) {
    const index = await readJson(src, 'model.safetensors.index.json');
    const wm = index.weight_map;
    if (!wm || typeof wm !== 'object' || Array.isArray(wm)) throw new Error('model.safetensors.index.json: no weight_map object');
    weightMap = wm as Record<string, string>;
    for (const [k, f] of Object.entries(weightMap)) {
      if (typeof f !== 'string') throw new Error(`model.safetensors.index.json: weight_map[${JSON.stringify(k)}] is not a file name`);
      if (!names.has(f)) throw new Error(`model.safetensors.index.json: shard ${f} (for ${k}) is missing from the folder`);
    }
    weightFiles = [...new Set(Object.values(weightMap))].sort();
  } else if (names.has('model.safetensors')) {
    weightFiles = ['model.safetensors'];
  } else {
    const hasBin = [...names].some((n) => n.endsWith('.bin') || n.endsWith('.pt') || n.endsWith('.pth'));
    throw new Error(`no model.safetensors or model.safetensors.index.json in the model folder${hasBin ? ' (PyTorch .bin checkpoints are not supported; convert them to safetensors)' : ''}`);
  }

  let tensors = new Map<string, TensorData>();
  for (const file of weightFiles) {
    const parsed = parseSafetensors(await src.read(file), file);
    for (const [name, t] of parsed.tensors) {
      if (tensors.has(name)) throw new Error(`${file}: tensor ${JSON.stringify(name)} also appears in another shard`);
      if (weightMap && weightMap[name] !== undefined && weightMap[name] !== file) {
        throw new Error(`${file}: tensor ${JSON.stringify(name)} is listed under ${weightMap[name]} in the index`);
      }
      tensors.set(name, t);
    }
  }
  if (weightMap) {
    for (const [name, file] of Object.entries(weightMap)) {
      if (!tensors.has(name)) throw new Error(`${file}: tensor ${JSON.stringify(name)} listed in model.safetensors.index.json is missing`);
    }
  }
  if (modelConfig.arch === 'gpt2') tensors = normaliseGpt2Names(tensors);

  const tokenizer = await loadTokenizer(src, {
    eosTokenIds: modelConfig.eosTokenIds,
    bosTokenId: modelConfig.bosTokenId,
    padTokenId: modelConfig.padTokenId,
  });
  const out: ModelFiles = { config, modelConfig, tensors, tokenizer, weightFiles };
  if (generationConfig) out.generationConfig = generationConfig;
  return out;
}
