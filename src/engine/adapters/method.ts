// The contract every method of the LoRA family implements (one file per method in this folder), so the CLI, the
// web worker and the tests drive all eight the same way: a MethodSpec describes the method and its own options
// (their flag names are the CLI's, their defaults the papers'/PEFT's), and builds a MethodRun: the adapter modules
// handed to the model, the trainable tensors, optional hooks into the training step, and the PEFT export.
import type { Gpu, Step } from '../gpu/runtime';
import type { FileSource } from '../io/files';
import type { AdamWOptions } from '../train/optimizer';
import type { Batch, TrainOptions } from '../train/trainer';
import type { AdapterModule, AdapterParam, LinearInfo } from './types';

export const METHOD_NAMES = ['lora', 'loraplus', 'vera', 'lorafa', 'loradrop', 'adalora', 'dora', 'deltalora'] as const;
export type MethodName = (typeof METHOD_NAMES)[number];

/** One method-specific option; `flag` is the CLI flag without `--` (e.g. 'loraplus-ratio'). */
export interface OptionSpec {
  kind: 'int' | 'number' | 'bool';
  default: number | boolean;
  help: string;
  /** inclusive lower bound checked for numbers */
  min?: number;
  /** exclusive lower bound (e.g. > 0) */
  above?: number;
  max?: number;
}

export type MethodOptions = Record<string, number | boolean>;

/** What every method shares (PEFT LoraConfig-like). */
export interface CommonHyper {
  r: number;
  alpha: number;
  rslora: boolean;
  /** module short names or full names, e.g. ['q_proj', 'v_proj'] */
  targets: string[];
  /** seed of the adapter's random init */
  seed: number;
  /** total optimizer steps of the run (AdaLoRA's schedule, Delta-LoRA's start clamp, LoRA-drop's phases) */
  steps: number;
  /** the base model's name or path, written as base_model_name_or_path */
  baseModel: string;
  /** GPT-2 Conv1D weights ([in, out]) → PEFT fan_in_fan_out */
  fanInFanOut: boolean;
  /** PEFT's lora_dropout on the adapter's input while training; absent: 0, or a loaded file's own lora_dropout */
  dropout?: number;
}

/** The model as a method sees it (CausalLM satisfies it). */
export interface MethodModel {
  linearLayers(): LinearInfo[];
  setAdapters(modules: Map<string, AdapterModule>): void;
  uploadBatch(batch: { ids: Uint32Array; labels: Int32Array; B: number; T: number; lossScale: number }): void;
  record(step: Step, opts: { backward: boolean; accumulate: boolean }): Promise<void>;
  lossSum: GPUBuffer;
}

export interface MethodContext {
  gpu: Gpu;
  model: MethodModel;
  /** the layers selected by the targets (for load(): every linear layer of the model) */
  layers: LinearInfo[];
  /** rows the modules' activation buffers must hold: batch × seq */
  maxTokens: number;
  common: CommonHyper;
  /** this method's options, every one present (defaults filled in) */
  options: MethodOptions;
  /** the training data and loop settings: LoRA-drop trains its first phase itself on a sample */
  data?: { count: number; batch: (indices: number[]) => Batch };
  train?: TrainOptions;
  log: (msg: string) => void;
  /** when load() continues a checkpoint: the method state its saveState wrote (also handed to restoreState) */
  resume?: MethodState;
}

export interface MethodState {
  json: Record<string, unknown>;
  tensors: Record<string, Float32Array>;
}

/** A trainable (or frozen) tensor with a name unique over the run: `${layer}.${param.name}` or a shared name. */
export interface NamedParam extends AdapterParam {
  key: string;
}

export interface MethodRun {
  /** adapted layer name → module (set on the model by the caller) */
  modules: Map<string, AdapterModule>;
  /** every trainable tensor, keys unique (optimizer moments are saved under them) */
  params: NamedParam[];
  optimizer?: Pick<AdamWOptions, 'groups' | 'beforeUpdate'>;
  /** recorded after the last micro-batch's backward, before the optimizer: extra loss terms and their gradients
   * (AdaLoRA's orthogonal regulariser adds its value into lossSum and its gradient into the grads) */
  beforeOptimizer?(step: Step, lossSum: GPUBuffer, stepNo: number): Promise<void>;
  /** recorded after the optimizer update, same Step (Delta-LoRA's W update, AdaLoRA's importance averages) */
  afterOptimizer?(step: Step, stepNo: number): Promise<void>;
  /** called once the step is submitted; may read back (AdaLoRA's rank masking every deltaT steps) */
  afterStep?(stepNo: number): Promise<void>;
  /** the PEFT files: adapter_config.json and adapter_model.safetensors (PeftModel.from_pretrained loads them) */
  exportAdapter(): Promise<Record<string, Uint8Array>>;
  /** method state for weblora.json (resume): JSON-able values and named tensors */
  saveState?(): Promise<MethodState>;
  restoreState?(json: Record<string, unknown>, tensors: Record<string, Float32Array>): Promise<void>;
  /** one line for the log, e.g. 'LoRA r=8 α=16 on 60 layers (q_proj, v_proj)' */
  describe: string;
}

export interface MethodSpec {
  name: MethodName;
  /** display name, e.g. 'LoRA+' */
  title: string;
  /** one sentence on what it changes (UI, --help) */
  summary: string;
  /** method-specific options (CLI flags) with their defaults */
  options: Record<string, OptionSpec>;
  /** overrides of the common defaults (r 8, alpha 8): VeRA r 256; AdaLoRA takes r from --init-r */
  defaults?: Partial<Pick<CommonHyper, 'r' | 'alpha'>>;
  /** common flags that make no sense here (e.g. VeRA: alpha, rslora) → rejected if given */
  rejects?: string[];
  /** trainable scalars for these layers, without a GPU (UI's parameter counts, README table) */
  countParams(layers: Pick<LinearInfo, 'inDim' | 'outDim' | 'name'>[], common: CommonHyper, options: MethodOptions): number;
  /** a new adapter (training from scratch) */
  create(ctx: MethodContext): Promise<MethodRun>;
  /** does this PEFT adapter_config.json belong to this method? (peft_type, use_dora, ...) */
  matchesConfig?(config: Record<string, unknown>): boolean;
  /** an adapter read from PEFT files (--adapter, --init-adapter, resume); ctx.layers = all linear layers */
  load?(ctx: MethodContext, files: FileSource, where: string): Promise<MethodRun>;
}

/** Fills every option of `spec` from `given` (by flag name) or its default, validating kinds and bounds. */
export function resolveOptions(spec: MethodSpec, given: Record<string, unknown>): MethodOptions {
  const out: MethodOptions = {};
  for (const [flag, o] of Object.entries(spec.options)) {
    const v = given[flag] ?? o.default;
    if (o.kind === 'bool') {
      if (typeof v !== 'boolean') throw new Error(`--${flag} is a switch`);
    } else {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`--${flag} wants a number, got ${String(v)}`);
      if (o.kind === 'int' && !Number.isInteger(v)) throw new Error(`--${flag} wants an integer, got ${v}`);
      if (o.min !== undefined && v < o.min) throw new Error(`--${flag} must be ≥ ${o.min}, got ${v}`);
      if (o.above !== undefined && !(v > o.above)) throw new Error(`--${flag} must be > ${o.above}, got ${v}`);
      if (o.max !== undefined && v > o.max) throw new Error(`--${flag} must be ≤ ${o.max}, got ${v}`);
    }
    out[flag] = v;
  }
  return out;
}

/** Layers whose name equals a target or ends with `.target` (PEFT's target_modules matching). */
export function selectLayers(layers: LinearInfo[], targets: string[]): LinearInfo[] {
  return layers.filter((l) => targets.some((t) => l.name === t || l.name.endsWith('.' + t)));
}

/** `${layer}.${suffix}` keys for a module's params. */
export function namedParams(layer: string, params: AdapterParam[]): NamedParam[] {
  return params.map((p) => ({ ...p, key: `${layer}.${p.name}` }));
}
