// PEFT-format AdaLoRA adapters (PEFT 0.21 tuners/adalora, utils/save_and_load.py):
//   adapter_config.json        AdaLoraConfig (a LoraConfig plus init_r, target_r, tinit, tfinal, deltaT, beta1, beta2,
//                              orth_reg_weight, total_step, rank_pattern), peft_type "ADALORA"
//   adapter_model.safetensors  base_model.model.<module>.lora_A [r, in], .lora_E [r, 1], .lora_B [out, r]
// Once the RankAllocator has masked (rank_pattern set: "<module>.lora_E" → one bool per rank), PEFT saves only the
// kept ranks: lora_A/lora_E rows and lora_B columns where the pattern is true; reading such a file back, PEFT
// resizes each module to that rank and keeps ranknum = init_r, so the scale stays lora_alpha / (init_r + 1e-5).
import { parseSafetensors, serializeSafetensors, type TensorData, type TensorToWrite } from './safetensors';
import { adapterConfigObject, pythonJson, tensorToF32 } from './peft';
import type { FileSource } from './files';

export interface AdaLoraConfig {
  initR: number;
  targetR: number;
  tinit: number;
  tfinal: number;
  deltaT: number;
  beta1: number;
  beta2: number;
  orthRegWeight: number;
  /** null when the file has none (an adapter made for inference only) */
  totalStep: number | null;
  alpha: number;
  targetModules: string[];
  fanInFanOut: boolean;
  baseModel: string | null;
  /** "<module>.lora_E" → kept ranks; null before the first masking */
  rankPattern: Record<string, boolean[]> | null;
}

export interface AdaLoraLayerWeights {
  r: number;
  inDim: number;
  outDim: number;
  A: Float32Array; // [r, in]
  E: Float32Array; // [r]
  B: Float32Array; // [out, r]
}

export interface AdaLoraAdapter {
  config: AdaLoraConfig;
  /** module path → weights, in file order (rank 0 modules, fully masked, included with r = 0) */
  layers: Map<string, AdaLoraLayerWeights>;
}

const PREFIX = 'base_model.model.';
export const rankPatternKey = (module: string) => `${module}.lora_E`;

/** PEFT scaling / (ranknum + 1e-5): lora_alpha (or init_r when lora_alpha ≤ 0) over init_r, ranknum an f32. */
export function adaloraScale(c: Pick<AdaLoraConfig, 'alpha' | 'initR'>): number {
  return (c.alpha > 0 ? c.alpha : c.initR) / Math.fround(c.initR + 1e-5);
}

export function isAdaLoraConfig(c: Record<string, unknown>): boolean {
  return String(c.peft_type ?? '').toUpperCase() === 'ADALORA';
}

export function adaloraConfigJson(c: AdaLoraConfig): string {
  const obj = {
    ...adapterConfigObject({ r: 8, alpha: c.alpha, rslora: false, targetModules: c.targetModules, fanInFanOut: c.fanInFanOut, baseModel: c.baseModel }),
    // `r` is LoraConfig's default: AdaLoRA ignores it (PEFT warns when it is not 8)
    peft_type: 'ADALORA', rank_pattern: c.rankPattern, beta1: c.beta1, beta2: c.beta2, deltaT: c.deltaT, init_r: c.initR,
    orth_reg_weight: c.orthRegWeight, target_r: c.targetR, tfinal: c.tfinal, tinit: c.tinit, total_step: c.totalStep,
  };
  // Python floats keep their ".0" (json.dumps(0.0) is 0.0)
  let text = pythonJson(obj);
  for (const k of ['lora_dropout', 'beta1', 'beta2', 'orth_reg_weight']) text = text.replace(new RegExp(`^(  "${k}": )(-?\\d+)(,?)$`, 'm'), '$1$2.0$3');
  return text;
}

/**
 * The kept ranks of a layer under a pattern (all of them without one). A pattern as long as the layer's rank selects;
 * one that keeps exactly the layer's rank describes tensors already cut (PEFT writes such a pattern back unchanged).
 */
function keptRanks(pattern: boolean[] | undefined, r: number, where: string): number[] {
  const all = [...Array(r).keys()];
  if (!pattern) return all;
  if (pattern.length === r) return pattern.flatMap((keep, k) => (keep ? [k] : []));
  if (pattern.filter(Boolean).length === r) return all;
  throw new Error(`${where}: rank_pattern has ${pattern.length} entries for rank ${r}`);
}

/** The two files, tensors truncated to the kept ranks when config.rankPattern is set (layers hold every rank then). */
export function serializeAdaLoraAdapter(a: AdaLoraAdapter): Record<'adapter_config.json' | 'adapter_model.safetensors', Uint8Array> {
  const tensors: TensorToWrite[] = [];
  for (const [module, l] of a.layers) {
    const kept = keptRanks(a.config.rankPattern?.[rankPatternKey(module)], l.r, module);
    const k = kept.length;
    const A = new Float32Array(k * l.inDim), E = new Float32Array(k), B = new Float32Array(l.outDim * k);
    kept.forEach((src, dst) => {
      A.set(l.A.subarray(src * l.inDim, (src + 1) * l.inDim), dst * l.inDim);
      E[dst] = l.E[src];
      for (let o = 0; o < l.outDim; o++) B[o * k + dst] = l.B[o * l.r + src];
    });
    tensors.push({ name: `${PREFIX}${module}.lora_A`, dtype: 'F32', shape: [k, l.inDim], data: A });
    tensors.push({ name: `${PREFIX}${module}.lora_B`, dtype: 'F32', shape: [l.outDim, k], data: B });
    tensors.push({ name: `${PREFIX}${module}.lora_E`, dtype: 'F32', shape: [k, 1], data: E });
  }
  return {
    'adapter_config.json': new TextEncoder().encode(adaloraConfigJson(a.config)),
    'adapter_model.safetensors': serializeSafetensors(tensors, { format: 'pt' }),
  };
}

function num(raw: Record<string, unknown>, k: string, dflt: number, where: string, int = true): number {
  const v = raw[k] ?? dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || (int && !Number.isInteger(v))) throw new Error(`${where}: bad ${k} ${JSON.stringify(raw[k])}`);
  return v;
}

export function parseAdaLoraConfig(text: string, where = 'adapter_config.json'): AdaLoraConfig {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: not valid JSON (${(e as Error).message})`);
  }
  if (!isAdaLoraConfig(raw)) throw new Error(`${where}: peft_type ${String(raw.peft_type)} is not ADALORA`);
  if (raw.bias && raw.bias !== 'none') throw new Error(`${where}: bias "${String(raw.bias)}" is not supported (only "none")`);
  if (raw.alpha_pattern && Object.keys(raw.alpha_pattern as object).length) throw new Error(`${where}: alpha_pattern is not supported`);
  const rp = raw.rank_pattern as Record<string, unknown> | null | undefined;
  let rankPattern: Record<string, boolean[]> | null = null;
  if (rp && Object.keys(rp).length) {
    rankPattern = {};
    for (const [k, v] of Object.entries(rp)) {
      if (!Array.isArray(v) || v.some((b) => typeof b !== 'boolean')) throw new Error(`${where}: rank_pattern["${k}"] is not a list of booleans`);
      // the adapter name may still be in the key (".lora_E.default") in files saved by hand
      rankPattern[k.replace(/\.lora_E\.[^.]+$/, '.lora_E')] = v as boolean[];
    }
  }
  const tm = raw.target_modules;
  const total = raw.total_step;
  return {
    initR: num(raw, 'init_r', 12, where), targetR: num(raw, 'target_r', 8, where), tinit: num(raw, 'tinit', 0, where),
    tfinal: num(raw, 'tfinal', 0, where), deltaT: num(raw, 'deltaT', 1, where), beta1: num(raw, 'beta1', 0.85, where, false),
    beta2: num(raw, 'beta2', 0.85, where, false), orthRegWeight: num(raw, 'orth_reg_weight', 0.5, where, false),
    totalStep: total === null || total === undefined ? null : num(raw, 'total_step', 0, where), alpha: num(raw, 'lora_alpha', 8, where, false),
    targetModules: Array.isArray(tm) ? tm.map(String) : typeof tm === 'string' ? [tm] : [], fanInFanOut: !!raw.fan_in_fan_out,
    baseModel: (raw.base_model_name_or_path as string | null) ?? null, rankPattern,
  };
}

/** Parses both files; every module needs lora_A, lora_E and lora_B of one rank (that of its rank_pattern, if any). */
export function parseAdaLoraAdapter(configText: string, weights: Uint8Array, where = 'adapter'): AdaLoraAdapter {
  const config = parseAdaLoraConfig(configText, `${where}/adapter_config.json`);
  const file = `${where}/adapter_model.safetensors`;
  const st = parseSafetensors(weights, file);
  const parts = new Map<string, { A?: TensorData; E?: TensorData; B?: TensorData }>();
  for (const [name, t] of st.tensors) {
    const m = /^base_model\.model\.(.+)\.lora_([AEB])(?:\.default)?$/.exec(name);
    if (!m) throw new Error(`${file}: tensor ${name} is not an AdaLoRA weight (base_model.model.<module>.lora_A/lora_E/lora_B)`);
    const p = parts.get(m[1]) ?? {};
    p[m[2] as 'A' | 'E' | 'B'] = t;
    parts.set(m[1], p);
  }
  const layers = new Map<string, AdaLoraLayerWeights>();
  for (const [module, { A, E, B }] of parts) {
    if (!A || !E || !B) throw new Error(`${file}: ${module} needs lora_A, lora_E and lora_B`);
    if (A.shape.length !== 2 || B.shape.length !== 2) throw new Error(`${file}: ${module} lora_A/lora_B must be 2-D`);
    const [r, inDim] = A.shape;
    const [outDim, rB] = B.shape;
    const rE = E.shape.reduce((a, b) => a * b, 1);
    if (rB !== r || rE !== r || E.shape[0] !== r) throw new Error(`${file}: ${module} lora_A [${A.shape}], lora_E [${E.shape}], lora_B [${B.shape}] disagree on the rank`);
    const pattern = config.rankPattern?.[rankPatternKey(module)];
    const want = pattern ? pattern.filter(Boolean).length : config.initR;
    if (r !== want) throw new Error(`${file}: ${module} has rank ${r}, but ${pattern ? 'its rank_pattern keeps' : 'init_r is'} ${want}`);
    layers.set(module, { r, inDim, outDim, A: tensorToF32(A, `${file}: ${module}.lora_A`), E: tensorToF32(E, `${file}: ${module}.lora_E`), B: tensorToF32(B, `${file}: ${module}.lora_B`) });
  }
  if (!layers.size) throw new Error(`${file}: no AdaLoRA weights`);
  if (config.rankPattern)
    for (const k of Object.keys(config.rankPattern))
      if (!layers.has(k.replace(/\.lora_E$/, ''))) throw new Error(`${file}: rank_pattern names ${k}, which has no weights here`);
  return { config, layers };
}

export async function readAdaLoraAdapter(src: FileSource, where = 'adapter'): Promise<AdaLoraAdapter> {
  const names = await src.list();
  for (const f of ['adapter_config.json', 'adapter_model.safetensors']) if (!names.includes(f)) throw new Error(`${where}: missing ${f}`);
  return parseAdaLoraAdapter(await src.readText('adapter_config.json'), await src.read('adapter_model.safetensors'), where);
}
