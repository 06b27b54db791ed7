// What crosses between the page and the engine worker: plain, structured-cloneable data only (comlink copies it).
// The page imports these as types; the worker fills them.

export type MethodName = 'lora' | 'loraplus' | 'vera' | 'lorafa' | 'loradrop' | 'adalora' | 'dora' | 'deltalora';

/** A method as the page shows it (the engine's MethodSpec without its functions). */
export interface MethodInfo {
  name: MethodName;
  title: string;
  summary: string;
  options: Record<string, { kind: 'int' | 'number' | 'bool'; default: number | boolean; help: string; min?: number; above?: number; max?: number }>;
  defaults: { r?: number; alpha?: number };
  /** common settings that do not apply ('alpha', 'rslora', ...) */
  rejects: string[];
}

/** Where a model comes from. Dropped or picked files carry their path inside the folder. */
export type ModelSource =
  | { kind: 'demo' | 'demo-tiny' }
  | { kind: 'files'; files: { path: string; file: File }[] }
  | { kind: 'hub'; repo: string; endpoint?: string; token?: string };

export interface LoadProgress {
  phase: 'download' | 'read' | 'parse';
  file?: string;
  /** bytes of the whole download so far / in all (null: unknown) */
  loaded: number;
  total: number | null;
  bytesPerSec?: number;
  filesDone?: number;
  filesTotal?: number;
  /** this file came from the browser's cache */
  cached?: boolean;
}

export interface LinearShape {
  name: string;
  shortName: string;
  inDim: number;
  outDim: number;
}

export interface ModelInfo {
  /** what the library and PEFT's base_model_name_or_path call it */
  id: string;
  label: string;
  source: 'demo' | 'demo-tiny' | 'files' | 'hub';
  arch: 'llama' | 'qwen2' | 'gpt2';
  hfArchitecture: string;
  params: number;
  /** the weights' dtype(s), e.g. "BF16" or "F32, F16" */
  dtype: string;
  weightBytes: number;
  contextLength: number;
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  intermediate: number;
  vocabSize: number;
  /** module short names in model order (q_proj, k_proj, ...) and every adaptable linear layer */
  moduleNames: string[];
  linears: LinearShape[];
  defaultTargets: string[];
  hasChatTemplate: boolean;
}

export interface MemoryEstimate {
  weights: number;
  activations: number;
  adapter: number;
  total: number;
  /** the largest single buffer, checked against maxBufferSize / maxStorageBufferBindingSize */
  largestBuffer: number;
  largestBufferName: string;
  /** problems that block training on this adapter (empty: fits the limits) */
  blockers: string[];
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number };
}

export type DataFormat = 'text' | 'prompt-completion' | 'alpaca' | 'chat';

export interface DataOptions {
  /** 'auto' reads each record by its fields; otherwise every record must have this shape */
  format: 'auto' | DataFormat;
  maskPrompt: boolean;
  /** percent of the examples held out for validation (0–50) */
  valPercent: number;
  /** at most this many validation examples are evaluated (keeps evals short) */
  valMax: number;
  seq: number;
  seed: number;
}

export interface BadRow {
  line: number;
  message: string;
}

export interface PreviewRow {
  line: number;
  format: DataFormat;
  /** prompt part (masked from the loss when maskPrompt) and the trained part, as the tokenizer splits them */
  masked: string;
  trained: string;
  tokens: number;
  maskedTokens: number;
  truncated: boolean;
}

export interface DatasetInfo {
  name: string;
  bytes: number;
  detected: DataFormat | 'mixed';
  counts: Partial<Record<DataFormat, number>>;
  examples: number;
  train: number;
  val: number;
  valEvaluated: number;
  errors: BadRow[];
  preview: PreviewRow[];
  tokens: { mean: number; max: number; truncated: number; trainedTokens: number };
  /** prompts for the sample generations (from the first validation examples) */
  samplePrompts: string[];
}

export interface TrainRequest {
  method: MethodName;
  r: number;
  alpha: number;
  rslora: boolean;
  /** PEFT's lora_dropout (absent: 0) */
  dropout?: number;
  targets: string[];
  options: Record<string, number | boolean>;
  lr: number;
  schedule: 'constant' | 'linear' | 'cosine';
  warmup: number;
  steps: number;
  batch: number;
  gradAccum: number;
  seq: number;
  seed: number;
  weightDecay: number;
  maxGradNorm: number;
  /** validation loss every N steps (0: only at the end) */
  evalEvery: number;
  /** sample generations every N steps (0: off) */
  sampleEvery: number;
  samplePrompts: string[];
  sampleTokens: number;
}

export type RunState = 'idle' | 'preparing' | 'running' | 'pausing' | 'paused' | 'stopping' | 'finished' | 'stopped' | 'error';

export interface StepPoint {
  step: number;
  loss: number;
  lr: number;
}

export interface ProgressInfo {
  step: number;
  steps: number;
  tokensPerSec: number;
  elapsedSec: number;
  etaSec: number;
}

export interface Sample {
  prompt: string;
  base: string;
  tuned: string;
}

export interface RunStarted {
  runId: string;
  trainableParams: number;
  describe: string;
  allocatedBytes: number;
  trainExamples: number;
  valExamples: number;
}

/** The page's callbacks (wrapped in Comlink.proxy); the worker never awaits them. */
export interface TrainEvents {
  state(state: RunState, detail?: string): void;
  started(info: RunStarted): void;
  steps(points: StepPoint[]): void;
  progress(p: ProgressInfo): void;
  evaluated(e: { step: number; loss: number }): void;
  samples(s: { step: number; samples: Sample[] }): void;
  log(msg: string): void;
}
