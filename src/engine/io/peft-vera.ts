// PEFT-format VeRA adapters (PEFT 0.21 tuners/vera, save_projection=True):
//   adapter_config.json        VeraConfig fields, peft_type "VERA"
//   adapter_model.safetensors  base_model.model.<module>.vera_lambda_b [out], .vera_lambda_d [r];
//                              base_model.vera_A [r, max_in], base_model.vera_B [max_out, r] (shared, frozen)
import { parseSafetensors, serializeSafetensors, type TensorToWrite } from './safetensors';
import { PEFT_VERSION, pythonJson, tensorToF32 } from './peft';
import type { FileSource } from './files';

export interface VeraConfig {
  r: number;
  targetModules: string[];
  projectionSeed: number;
  dInitial: number;
  fanInFanOut: boolean;
  baseModel: string | null;
}

export interface VeraAdapter {
  config: VeraConfig;
  A: Float32Array; // [r, maxIn]
  B: Float32Array; // [maxOut, r]
  maxIn: number;
  maxOut: number;
  /** module path → λ_d [r], λ_b [out] */
  layers: Map<string, { lambdaD: Float32Array; lambdaB: Float32Array }>;
}

export function isVeraConfigText(text: string): boolean {
  try {
    return String(JSON.parse(text).peft_type ?? '').toUpperCase() === 'VERA';
  } catch {
    return false;
  }
}

export function veraConfigJson(c: VeraConfig): string {
  const obj = {
    auto_mapping: null, base_model_name_or_path: c.baseModel, bias: 'none', d_initial: c.dInitial, fan_in_fan_out: c.fanInFanOut,
    inference_mode: true, init_weights: true, layers_pattern: null, layers_to_transform: null, modules_to_save: null,
    peft_type: 'VERA', peft_version: PEFT_VERSION, projection_prng_key: c.projectionSeed, r: c.r, revision: null,
    save_projection: true, target_modules: [...c.targetModules].sort(), task_type: 'CAUSAL_LM', vera_dropout: 0.0,
  };
  // Python floats: 0.0 stays 0.0
  return pythonJson(obj).replace(/^(  "vera_dropout": )(-?\d+)$/m, '$1$2.0').replace(/^(  "d_initial": )(-?\d+),$/m, '$1$2.0,');
}

export function serializeVeraAdapter(a: VeraAdapter): Record<'adapter_config.json' | 'adapter_model.safetensors', Uint8Array> {
  const r = a.config.r;
  const tensors: TensorToWrite[] = [];
  for (const [module, l] of a.layers) {
    tensors.push({ name: `base_model.model.${module}.vera_lambda_b`, dtype: 'F32', shape: [l.lambdaB.length], data: l.lambdaB });
    tensors.push({ name: `base_model.model.${module}.vera_lambda_d`, dtype: 'F32', shape: [r], data: l.lambdaD });
  }
  tensors.push({ name: 'base_model.vera_A', dtype: 'F32', shape: [r, a.maxIn], data: a.A });
  tensors.push({ name: 'base_model.vera_B', dtype: 'F32', shape: [a.maxOut, r], data: a.B });
  return {
    'adapter_config.json': new TextEncoder().encode(veraConfigJson(a.config)),
    'adapter_model.safetensors': serializeSafetensors(tensors, { format: 'pt' }),
  };
}

export function parseVeraAdapter(configText: string, weights: Uint8Array, where = 'adapter'): VeraAdapter {
  const raw = JSON.parse(configText);
  if (String(raw.peft_type).toUpperCase() !== 'VERA') throw new Error(`${where}/adapter_config.json: peft_type ${raw.peft_type} is not VERA`);
  const r = Number(raw.r ?? 256);
  const tm = raw.target_modules;
  const config: VeraConfig = {
    r, targetModules: Array.isArray(tm) ? tm.map(String) : typeof tm === 'string' ? [tm] : [],
    projectionSeed: Number(raw.projection_prng_key ?? 0), dInitial: Number(raw.d_initial ?? 0.1),
    fanInFanOut: !!raw.fan_in_fan_out, baseModel: raw.base_model_name_or_path ?? null,
  };
  const file = `${where}/adapter_model.safetensors`;
  const st = parseSafetensors(weights, file);
  const A = st.tensors.get('base_model.vera_A'), B = st.tensors.get('base_model.vera_B');
  if (!A || !B) throw new Error(`${file}: no base_model.vera_A / vera_B (the adapter was saved with save_projection=False; PEFT's torch RNG cannot be replayed here)`);
  if (A.shape[0] !== r || B.shape[1] !== r) throw new Error(`${file}: vera_A [${A.shape}] / vera_B [${B.shape}] do not match r=${r}`);
  const layers = new Map<string, { lambdaD: Float32Array; lambdaB: Float32Array }>();
  const parts = new Map<string, { d?: Float32Array; b?: Float32Array }>();
  for (const [name, t] of st.tensors) {
    if (name === 'base_model.vera_A' || name === 'base_model.vera_B') continue;
    const m = /^base_model\.model\.(.+)\.vera_lambda_([bd])$/.exec(name);
    if (!m) throw new Error(`${file}: tensor ${name} is not a VeRA weight`);
    const p = parts.get(m[1]) ?? {};
    p[m[2] as 'b' | 'd'] = tensorToF32(t, `${file}: ${name}`);
    parts.set(m[1], p);
  }
  for (const [module, p] of parts) {
    if (!p.d || !p.b) throw new Error(`${file}: ${module} lacks vera_lambda_${p.d ? 'b' : 'd'}`);
    if (p.d.length !== r) throw new Error(`${file}: ${module}.vera_lambda_d has ${p.d.length} values, r=${r}`);
    layers.set(module, { lambdaD: p.d, lambdaB: p.b });
  }
  return { config, A: tensorToF32(A), B: tensorToF32(B), maxIn: A.shape[1], maxOut: B.shape[0], layers };
}

export async function readVeraAdapter(src: FileSource, where = 'adapter'): Promise<VeraAdapter> {
  return parseVeraAdapter(await src.readText('adapter_config.json'), await src.read('adapter_model.safetensors'), where);
}
