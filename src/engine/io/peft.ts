// PEFT-format LoRA / rsLoRA adapters (PEFT 0.21 `utils/save_and_load.py`, `tuners/lora/config.py`), and merging
// an adapter into its base model. Pure bytes in, bytes out, so the app (browser) and the CLI (Node) share it.
//
//   adapter_config.json        json.dumps(asdict(LoraConfig), indent=2, sort_keys=True)
//   adapter_model.safetensors  metadata {"format": "pt"}; per adapted module (HF module path):
//     base_model.model.<path>.lora_A.weight [r, in]
//     base_model.model.<path>.lora_B.weight [out, r]
// GPT-2's Conv1D keeps its base weight as [in, out] (`fan_in_fan_out: true`) but lora_A/lora_B keep the
// nn.Linear layout above; only the merge transposes: W[in, out] += s·(B·A)ᵀ.
import { parseSafetensors, serializeSafetensors, type TensorData, type TensorToWrite } from './safetensors';
import type { FileSource } from './files';

export const PEFT_VERSION = '0.21.0';

export interface LoraAdapterConfig {
  r: number;
  alpha: number;
  rslora: boolean;
  /** module name suffixes (PEFT matches a list against the end of the module path) */
  targetModules: string[];
  /** true for GPT-2 (Conv1D base weights stored [in, out]) */
  fanInFanOut: boolean;
  baseModel: string | null;
  dropout?: number;
  /** DoRA (use_dora): every layer also has lora_magnitude_vector [out] */
  dora?: boolean;
}

export interface LoraLayerWeights {
  /** HF module path, e.g. model.layers.0.self_attn.q_proj */
  module: string;
  r: number;
  inDim: number;
  outDim: number;
  A: Float32Array; // [r, in]
  B: Float32Array; // [out, r]
  /** DoRA's m [out] (key lora_magnitude_vector) */
  magnitude?: Float32Array;
}

export interface LoraAdapter {
  config: LoraAdapterConfig;
  /** keyed by module path, in file order */
  layers: Map<string, LoraLayerWeights>;
}

/** s = α/r, or α/√r with rsLoRA (PEFT's `scaling`). */
export function adapterScale(c: Pick<LoraAdapterConfig, 'r' | 'alpha' | 'rslora'>): number {
  return c.rslora ? c.alpha / Math.sqrt(c.r) : c.alpha / c.r;
}

// ---------- JSON as Python writes it (sort_keys=True, indent=2) ----------

function sortKeysDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeysDeep);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) out[k] = sortKeysDeep((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

/** json.dumps(obj, indent=2, sort_keys=True): JSON.stringify's indent-2 layout is the same as Python's. */
export function pythonJson(obj: unknown): string {
  // Python escapes non-ASCII (ensure_ascii=True); do the same so the bytes match.
  return JSON.stringify(sortKeysDeep(obj), null, 2).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/** The adapter_config.json object: every field PEFT 0.21's LoraConfig saves, set as a plain LoRA/rsLoRA adapter has them. */
export function adapterConfigObject(c: LoraAdapterConfig): Record<string, unknown> {
  return {
    alora_invocation_tokens: null,
    alpha_pattern: {},
    arrow_config: null,
    auto_mapping: null,
    base_model_name_or_path: c.baseModel,
    bias: 'none',
    corda_config: null,
    ensure_weight_tying: false,
    eva_config: null,
    exclude_modules: null,
    fan_in_fan_out: c.fanInFanOut,
    inference_mode: true,
    init_lora_weights: true,
    kasa_config: null,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: c.alpha,
    lora_bias: false,
    lora_dropout: c.dropout ?? 0.0,
    lora_ga_config: null,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: null,
    monteclora_config: null,
    peft_type: 'LORA',
    peft_version: PEFT_VERSION,
    qalora_group_size: 16,
    r: c.r,
    rank_pattern: {},
    revision: null,
    target_modules: [...c.targetModules].sort(),
    target_parameters: null,
    task_type: 'CAUSAL_LM',
    trainable_token_indices: null,
    use_bdlora: null,
    use_dora: !!c.dora,
    use_qalora: false,
    use_rslora: c.rslora,
    velora_config: null,
  };
}

export function adapterConfigJson(c: LoraAdapterConfig): string {
  // lora_dropout is a Python float: json.dumps writes 0.0, not 0
  return pythonJson(adapterConfigObject(c)).replace(/^(  "lora_dropout": )(-?\d+),$/m, '$1$2.0,');
}

/** Reads adapter_config.json text: LoRA / rsLoRA / DoRA; patterns and other PEFT types are refused by name. */
export function parseAdapterConfig(text: string, where = 'adapter_config.json'): LoraAdapterConfig {
  let raw: any;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: not valid JSON (${(e as Error).message})`);
  }
  if (!raw || typeof raw !== 'object') throw new Error(`${where}: not a JSON object`);
  const type = String(raw.peft_type ?? 'LORA').toUpperCase();
  if (type !== 'LORA') throw new Error(`${where}: peft_type ${type} is not supported (LORA only)`);
  for (const k of ['rank_pattern', 'alpha_pattern'])
    if (raw[k] && Object.keys(raw[k]).length) throw new Error(`${where}: ${k} is not supported`);
  if (raw.bias && raw.bias !== 'none') throw new Error(`${where}: bias "${raw.bias}" is not supported (only "none")`);
  const r = Number(raw.r ?? 8);
  const alpha = Number(raw.lora_alpha ?? 8);
  if (!Number.isInteger(r) || r < 1) throw new Error(`${where}: bad r ${JSON.stringify(raw.r)}`);
  if (!Number.isFinite(alpha)) throw new Error(`${where}: bad lora_alpha ${JSON.stringify(raw.lora_alpha)}`);
  const tm = raw.target_modules;
  const targetModules = Array.isArray(tm) ? tm.map(String) : typeof tm === 'string' ? [tm] : [];
  return {
    r,
    alpha,
    rslora: !!raw.use_rslora,
    targetModules,
    fanInFanOut: !!raw.fan_in_fan_out,
    baseModel: raw.base_model_name_or_path ?? null,
    dropout: Number(raw.lora_dropout ?? 0),
    dora: !!raw.use_dora,
  };
}

// ---------- 16-bit floats ----------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Round to nearest even f16, as torch's .to(float16). */
export function f32ToF16(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let v = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && v & 1)) v++;
    return sign | v;
  }
  let v = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && v & 1)) v++; // may carry into the exponent: still correct
  return sign | v;
}

/** Round to nearest even bf16. */
export function f32ToBf16(x: number): number {
  f32[0] = x;
  const b = u32[0];
  if ((b & 0x7f800000) === 0x7f800000 && b & 0x7fffff) return (b >>> 16) | 0x40;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Any float tensor (F32/F16/BF16/F64) widened to f32. */
export function tensorToF32(t: TensorData, where = ''): Float32Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const bytes = t.data;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  switch (t.dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
      return out;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
      return out;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = f16ToF32(dv.getUint16(i * 2, true));
      return out;
    case 'BF16':
      for (let i = 0; i < n; i++) {
        u32[0] = dv.getUint16(i * 2, true) << 16;
        out[i] = f32[0];
      }
      return out;
    default:
      throw new Error(`${where}: dtype ${t.dtype} is not a float type`);
  }
}

/** f32 values encoded as `dtype` little-endian bytes (rounding to nearest even). */
export function f32ToBytes(x: ArrayLike<number>, dtype: 'F32' | 'F16' | 'BF16' | 'F64'): Uint8Array {
  const n = x.length;
  if (dtype === 'F32') return new Uint8Array(Float32Array.from(x).buffer);
  if (dtype === 'F64') return new Uint8Array(Float64Array.from(x).buffer);
  const out = new Uint16Array(n);
  const conv = dtype === 'F16' ? f32ToF16 : f32ToBf16;
  for (let i = 0; i < n; i++) out[i] = conv(x[i]);
  return new Uint8Array(out.buffer);
}

// ---------- adapter files ----------

const PREFIX = 'base_model.model.';

/** The two files of a PEFT adapter folder, as bytes. */
export function serializeLoraAdapter(adapter: LoraAdapter): Record<'adapter_config.json' | 'adapter_model.safetensors', Uint8Array> {
  const tensors: TensorToWrite[] = [];
  for (const l of adapter.layers.values()) {
    if (l.A.length !== l.r * l.inDim || l.B.length !== l.outDim * l.r) throw new Error(`${l.module}: lora_A/lora_B sizes do not match r=${l.r}, in=${l.inDim}, out=${l.outDim}`);
    tensors.push({ name: `${PREFIX}${l.module}.lora_A.weight`, dtype: 'F32', shape: [l.r, l.inDim], data: l.A });
    tensors.push({ name: `${PREFIX}${l.module}.lora_B.weight`, dtype: 'F32', shape: [l.outDim, l.r], data: l.B });
    if (adapter.config.dora) {
      if (!l.magnitude || l.magnitude.length !== l.outDim) throw new Error(`${l.module}: DoRA needs lora_magnitude_vector [${l.outDim}]`);
      tensors.push({ name: `${PREFIX}${l.module}.lora_magnitude_vector`, dtype: 'F32', shape: [l.outDim], data: l.magnitude });
    }
  }
  return {
    'adapter_config.json': new TextEncoder().encode(adapterConfigJson(adapter.config)),
    'adapter_model.safetensors': serializeSafetensors(tensors, { format: 'pt' }),
  };
}

/** Parses a PEFT LoRA adapter from its two files. Shapes are checked against each other and the config. */
export function parseLoraAdapter(configText: string, weights: Uint8Array, where = 'adapter'): LoraAdapter {
  const config = parseAdapterConfig(configText, `${where}/adapter_config.json`);
  const file = `${where}/adapter_model.safetensors`;
  const st = parseSafetensors(weights, file);
  const pairs = new Map<string, { A?: TensorData; B?: TensorData; M?: TensorData }>();
  for (const [name, t] of st.tensors) {
    const mag = /^base_model\.model\.(.+)\.lora_magnitude_vector(?:\.default)?(?:\.weight)?$/.exec(name);
    if (mag && config.dora) {
      const p = pairs.get(mag[1]) ?? {};
      p.M = t;
      pairs.set(mag[1], p);
      continue;
    }
    const m = /^base_model\.model\.(.+)\.lora_([AB])(?:\.default)?\.weight$/.exec(name);
    if (!m) throw new Error(`${file}: tensor ${name} is not a LoRA weight (base_model.model.<module>.lora_A/B.weight)`);
    const p = pairs.get(m[1]) ?? {};
    p[m[2] as 'A' | 'B'] = t;
    pairs.set(m[1], p);
  }
  const layers = new Map<string, LoraLayerWeights>();
  for (const [module, { A, B, M }] of pairs) {
    if (!A || !B) throw new Error(`${file}: ${module} has only lora_${A ? 'A' : 'B'}`);
    if (config.dora && (!M || M.shape.length !== 1 || M.shape[0] !== B.shape[0]))
      throw new Error(`${file}: ${module} needs lora_magnitude_vector [${B.shape[0]}] (DoRA: use_dora)${M ? `, has [${M.shape}]` : ''}`);
    if (A.shape.length !== 2 || B.shape.length !== 2) throw new Error(`${file}: ${module} lora_A/lora_B must be 2-D`);
    const [r, inDim] = A.shape;
    const [outDim, rB] = B.shape;
    if (rB !== r) throw new Error(`${file}: ${module} lora_A is [${A.shape}] but lora_B is [${B.shape}]`);
    if (r !== config.r) throw new Error(`${file}: ${module} has rank ${r}, adapter_config.json says r=${config.r}`);
    layers.set(module, {
      module, r, inDim, outDim, A: tensorToF32(A, `${file}: ${module}.lora_A`), B: tensorToF32(B, `${file}: ${module}.lora_B`),
      ...(M ? { magnitude: tensorToF32(M, `${file}: ${module}.lora_magnitude_vector`) } : {}),
    });
  }
  if (!layers.size) throw new Error(`${file}: no LoRA weights`);
  return { config, layers };
}

/** Reads adapter_config.json + adapter_model.safetensors from a folder (Node dir, browser files, memory). */
export async function readLoraAdapter(src: FileSource, where = 'adapter'): Promise<LoraAdapter> {
  const names = await src.list();
  for (const f of ['adapter_config.json', 'adapter_model.safetensors'])
    if (!names.includes(f)) throw new Error(`${where}: missing ${f}`);
  return parseLoraAdapter(await src.readText('adapter_config.json'), await src.read('adapter_model.safetensors'), where);
}

// ---------- merge ----------

/**
 * W (+)= s·B·A in float64 (DoRA: then each row × m/‖row‖), rounded once to the weight's dtype. W is [out, in] (Linear) or, with fanInFanOut,
 * [in, out] (Conv1D), as PEFT's merge does with transpose(delta, fan_in_fan_out). Returns new bytes.
 */
export function mergeLoraWeight(w: TensorData, l: LoraLayerWeights, scale: number, fanInFanOut: boolean, where = l.module): Uint8Array {
  const { r, inDim, outDim, A, B } = l;
  const want = fanInFanOut ? [inDim, outDim] : [outDim, inDim];
  if (w.shape.length !== 2 || w.shape[0] !== want[0] || w.shape[1] !== want[1])
    throw new Error(`${where}: base weight is [${w.shape}], the adapter needs [${want}]${fanInFanOut ? ' (fan_in_fan_out)' : ''}`);
  const W = tensorToF32(w, where);
  const out = new Float32Array(W.length);
  const row = new Float64Array(inDim);
  for (let o = 0; o < outDim; o++) {
    row.fill(0);
    for (let k = 0; k < r; k++) {
      const b = B[o * r + k] * scale;
      if (b === 0) continue;
      const a0 = k * inDim;
      for (let i = 0; i < inDim; i++) row[i] += b * A[a0 + i];
    }
    // DoRA: the merged row is m/‖W₀ + s·B·A‖ · (W₀ + s·B·A)
    for (let i = 0; i < inDim; i++) row[i] += fanInFanOut ? W[i * outDim + o] : W[o * inDim + i];
    let c = 1;
    if (l.magnitude) {
      let n2 = 0;
      for (let i = 0; i < inDim; i++) n2 += row[i] * row[i];
      c = l.magnitude[o] / Math.sqrt(n2);
    }
    if (fanInFanOut) for (let i = 0; i < inDim; i++) out[i * outDim + o] = c * row[i];
    else for (let i = 0; i < inDim; i++) out[o * inDim + i] = c * row[i];
  }
  return f32ToBytes(out, w.dtype as 'F32' | 'F16' | 'BF16' | 'F64');
}

/**
 * A merged model folder: every file of `model` copied, every *.safetensors rewritten with the adapted weights
 * W₀ + s·B·A in their original dtype (same shards, names, tensor set and metadata). With `write`, each file is
 * handed over as soon as it is ready and not kept (one shard in memory at a time); else returns name → bytes.
 */
export async function mergeLoraIntoModel(
  model: FileSource,
  adapter: LoraAdapter,
  write?: (name: string, bytes: Uint8Array) => Promise<void>,
): Promise<Map<string, Uint8Array>> {
  const scale = adapterScale(adapter.config);
  const names = await model.list();
  const out = new Map<string, Uint8Array>();
  const pending = new Set(adapter.layers.keys());
  for (const name of names) {
    const emit = async (bytes: Uint8Array) => (write ? write(name, bytes) : void out.set(name, bytes));
    const bytes = await model.read(name);
    if (!name.endsWith('.safetensors')) {
      await emit(bytes);
      continue;
    }
    const st = parseSafetensors(bytes, name);
    const tensors: TensorToWrite[] = [];
    for (const [key, t] of st.tensors) {
      let data: Uint8Array = t.data;
      const module = key.endsWith('.weight') ? key.slice(0, -'.weight'.length) : null;
      // GPT-2 checkpoints may store keys without the `transformer.` prefix the module path has
      const layer = module ? adapter.layers.get(module) ?? adapter.layers.get(`transformer.${module}`) : undefined;
      if (layer) {
        data = mergeLoraWeight(t, layer, scale, adapter.config.fanInFanOut, `${name}: ${key}`);
        pending.delete(layer.module);
      }
      tensors.push({ name: key, dtype: t.dtype, shape: t.shape, data });
    }
    await emit(serializeSafetensors(tensors, Object.keys(st.metadata).length ? st.metadata : undefined));
  }
  if (pending.size) throw new Error(`the model has no weight for adapted module ${[...pending][0]}${pending.size > 1 ? ` (and ${pending.size - 1} more)` : ''}`);
  return out;
}
