// One fine-tuning run of any method, as the CLI and the web worker both drive it: settings → the method's run (new,
// from a PEFT adapter, or resumed from a checkpoint) → the Trainer with the method's hooks → PEFT files and
// checkpoints. A checkpoint is the PEFT files plus weblora.json (method, settings, step, method state) and
// weblora-state.safetensors (AdamW's moments `optimizer.m.<param>`/`optimizer.v.<param>`, method tensors `method.<name>`).
import type { Gpu } from '../gpu/runtime';
import type { FileSource } from '../io/files';
import { parseSafetensors, serializeSafetensors } from '../io/safetensors';
import { tensorToF32 } from '../io/peft';
import { resolveOptions, selectLayers, type CommonHyper, type MethodModel, type MethodName, type MethodRun, type MethodSpec, type MethodState } from '../adapters/method';
import { availableMethods, methodSpec, readAdapterConfig } from '../adapters/registry';
import type { LinearInfo } from '../adapters/types';
import { Trainer, evaluateLoss, type Batch, type Progress, type StepRecord, type TrainOptions } from './trainer';
import type { ScheduleName } from './schedules';

export interface SessionSettings {
  method: MethodName;
  r?: number;
  alpha?: number;
  rslora?: boolean;
  targets?: string[];
  seed?: number;
  /** PEFT's lora_dropout (--lora-dropout), 0 ≤ p < 1; absent: 0, or --init-adapter's own lora_dropout */
  dropout?: number;
  /** method options by CLI flag name ('loraplus-ratio', 'init-r', ...); absent ones take the method's defaults */
  options?: Record<string, number | boolean>;
  steps: number;
  batch: number;
  seq: number;
  lr: number;
  schedule?: ScheduleName;
  warmup?: number;
  gradAccum?: number;
  shuffle?: boolean;
  weightDecay?: number;
  maxGradNorm?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** read the loss back every N steps (default 10) */
  logEvery?: number;
}

/** PEFT's default target modules per architecture (transformers' TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING). */
export const DEFAULT_TARGETS: Record<string, string[]> = { llama: ['q_proj', 'v_proj'], qwen2: ['q_proj', 'v_proj'], gpt2: ['c_attn'] };

export interface SessionModel extends MethodModel {
  linearLayers(): LinearInfo[];
}

export interface SessionArgs {
  gpu: Gpu;
  model: SessionModel;
  /** 'llama' | 'qwen2' | 'gpt2' (default targets, fan_in_fan_out) */
  arch: string;
  /** written as base_model_name_or_path */
  baseModel: string;
  data: { count: number; batch: (indices: number[]) => Batch };
  settings: SessionSettings;
  /** start from this PEFT adapter (its config decides r, α, targets; given settings may repeat, not contradict) */
  init?: { files: FileSource; where: string };
  /** continue a checkpoint (PEFT files + weblora.json + weblora-state.safetensors) */
  resume?: { files: FileSource; where: string };
  log?: (msg: string) => void;
}

export interface CheckpointInfo {
  format: 'weblora-checkpoint';
  version: 1;
  method: MethodName;
  settings: SessionSettings;
  step: number;
  base_model: string;
  history: StepRecord[];
  method_state: Record<string, unknown>;
  created: string;
}

export const CHECKPOINT_JSON = 'weblora.json';
export const CHECKPOINT_TENSORS = 'weblora-state.safetensors';

/** weblora.json of a checkpoint folder. */
export async function readCheckpointInfo(files: FileSource, where: string): Promise<CheckpointInfo> {
  if (!(await files.list()).includes(CHECKPOINT_JSON)) throw new Error(`${where}: no ${CHECKPOINT_JSON} (not a WebLoRA checkpoint)`);
  const info = JSON.parse(await files.readText(CHECKPOINT_JSON)) as CheckpointInfo;
  if (info.format !== 'weblora-checkpoint' || info.version !== 1) throw new Error(`${where}/${CHECKPOINT_JSON}: not a version-1 WebLoRA checkpoint`);
  return info;
}

export class TrainingSession {
  readonly trainer: Trainer;
  readonly history: StepRecord[] = [];

  private constructor(
    private gpu: Gpu,
    private model: SessionModel,
    readonly spec: MethodSpec,
    readonly method: MethodRun,
    readonly settings: SessionSettings,
    readonly common: CommonHyper,
    private data: SessionArgs['data'],
  ) {
    this.trainer = new Trainer(gpu, model, method.params, data, { ...trainOptions(settings), ...method.optimizer, hooks: method });
  }

  static async create(a: SessionArgs): Promise<TrainingSession> {
    const log = a.log ?? (() => {});
    const s = a.settings;
    const spec = methodSpec(s.method);
    if (s.dropout !== undefined && !(s.dropout >= 0 && s.dropout < 1)) throw new Error(`--lora-dropout must be in [0, 1), got ${s.dropout}`);
    // dropout 0 is every method's default, not a request (the app sends it for all)
    const given = { ...s, dropout: s.dropout || undefined } as unknown as Record<string, unknown>;
    for (const k of spec.rejects ?? [])
      if (![undefined, false].includes(given[k] as undefined)) throw new Error(k === 'dropout' ? noDropoutMessage(spec) : `--${k} does not apply to --method ${s.method}`);
    const noDropout = spec.rejects?.includes('dropout');
    const options = resolveOptions(spec, s.options ?? {});
    const all = a.model.linearLayers();
    const targets = s.targets?.length ? s.targets : DEFAULT_TARGETS[a.arch] ?? ['q_proj', 'v_proj'];
    const common: CommonHyper = {
      r: s.r ?? spec.defaults?.r ?? 8, alpha: s.alpha ?? spec.defaults?.alpha ?? 8, rslora: !!s.rslora, targets,
      seed: s.seed ?? 42, steps: s.steps, baseModel: a.baseModel, fanInFanOut: a.arch === 'gpt2',
      // a method without dropout trains (and writes) an --init-adapter with lora_dropout > 0 at 0
      dropout: noDropout ? 0 : s.dropout,
    };
    const ctx = {
      gpu: a.gpu, model: a.model, layers: selectLayers(all, targets), maxTokens: s.batch * s.seq, common, options, log,
      data: a.data, train: trainOptions(s),
    };
    if (!a.init && !a.resume && !ctx.layers.length)
      throw new Error(`--targets ${targets.join(',')} match no linear layer of this model (it has ${[...new Set(all.map((l) => l.shortName))].join(', ')})`);
    const from = a.resume ?? a.init;
    const checkpoint = a.resume ? await readCheckpoint(a.resume.files, a.resume.where, spec) : undefined;
    let run: MethodRun;
    if (from) {
      const config = await readAdapterConfig(from.files, from.where);
      if (!spec.load || !spec.matchesConfig?.(config))
        throw new Error(`--method ${s.method} cannot continue ${from.where} (peft_type ${String(config.peft_type)}${config.use_dora ? ', use_dora' : ''})`);
      if (a.init) checkInitClash(s, config);
      if (a.init && noDropout && Number(config.lora_dropout) > 0) log(`${spec.title} trains without dropout: ${from.where}'s lora_dropout ${String(config.lora_dropout)} is not applied (written as 0)`);
      run = await spec.load({ ...ctx, layers: all, resume: checkpoint?.method }, from.files, from.where);
    } else run = await spec.create(ctx);
    a.model.setAdapters(run.modules);
    log(run.describe);
    const session = new TrainingSession(a.gpu, a.model, spec, run, s, common, a.data);
    if (checkpoint) await session.restore(checkpoint);
    return session;
  }

  get stepsDone(): number {
    return this.trainer.stepsDone;
  }

  /** trainable scalars */
  get trainableParams(): number {
    return this.trainer.optimizer.size;
  }

  /** Trains up to settings.steps (again after stop(): continues where it stopped). */
  async run(onSteps?: (recs: StepRecord[]) => void, onProgress?: (p: Progress) => void): Promise<StepRecord[]> {
    this.trainer.stopped = false;
    return this.trainer.run((recs) => {
      this.history.push(...recs);
      onSteps?.(recs);
    }, onProgress);
  }

  /** Finishes the current step, then run() returns. */
  stop(): void {
    this.trainer.stopped = true;
  }

  /** Mean loss over other data (a validation split), forward only, in batches of settings.batch. */
  evaluate(data: { count: number; batch: (indices: number[]) => Batch }): Promise<{ loss: number; tokens: number }> {
    return evaluateLoss(this.gpu, this.model, data, this.settings.batch, this.settings.seq);
  }

  /** adapter_config.json + adapter_model.safetensors, as PeftModel.from_pretrained reads them. */
  exportAdapter(): Promise<Record<string, Uint8Array>> {
    return this.method.exportAdapter();
  }

  /** The PEFT files plus what resuming needs. */
  async checkpoint(): Promise<Record<string, Uint8Array>> {
    const files = await this.exportAdapter();
    const method = (await this.method.saveState?.()) ?? { json: {}, tensors: {} };
    const opt = await this.trainer.optimizer.exportState();
    const tensors = [
      ...Object.entries(opt).map(([k, v]) => ({ name: `optimizer.${k}`, data: v })),
      ...Object.entries(method.tensors).map(([k, v]) => ({ name: `method.${k}`, data: v })),
    ].map((t) => ({ ...t, dtype: 'F32' as const, shape: [t.data.length] }));
    const info: CheckpointInfo = {
      format: 'weblora-checkpoint', version: 1, method: this.spec.name, settings: this.settings, step: this.stepsDone,
      base_model: this.common.baseModel, history: this.history, method_state: { ...method.json, adam_t: this.trainer.optimizer.t }, created: new Date().toISOString(),
    };
    return { ...files, [CHECKPOINT_JSON]: new TextEncoder().encode(JSON.stringify(info, null, 2)), [CHECKPOINT_TENSORS]: serializeSafetensors(tensors, { format: 'weblora' }) };
  }

  private async restore(c: Checkpoint) {
    this.trainer.optimizer.importState(c.adamT, c.optimizer);
    await this.method.restoreState?.(c.method.json, c.method.tensors);
    this.trainer.stepsDone = c.info.step;
    this.history.push(...(c.info.history ?? []));
  }

}

/** A method whose spec rejects dropout (rejects 'lora-dropout' / 'dropout'), said with the methods that take it. */
export function noDropoutMessage(spec: MethodSpec): string {
  const takers = availableMethods().filter((m) => !m.rejects?.includes('dropout')).map((m) => m.name);
  return `--lora-dropout does not apply to --method ${spec.name}: WebLoRA trains ${spec.title} without dropout (--lora-dropout applies to ${takers.join(', ')})`;
}

/** The Trainer's options from the settings, with the defaults of transformers' Trainer / the CLI. */
export function trainOptions(s: SessionSettings): TrainOptions {
  return {
    steps: s.steps, batch: s.batch, seq: s.seq, lr: s.lr, schedule: s.schedule ?? 'linear', warmup: s.warmup ?? 0,
    gradAccum: s.gradAccum ?? 1, shuffle: s.shuffle ?? true, seed: s.seed ?? 42, weightDecay: s.weightDecay ?? 0,
    maxGradNorm: s.maxGradNorm ?? 1.0, beta1: s.beta1 ?? 0.9, beta2: s.beta2 ?? 0.999, eps: s.eps ?? 1e-8, readEvery: s.logEvery ?? 10,
  };
}

interface Checkpoint {
  info: CheckpointInfo;
  adamT: number;
  /** AdamW's moments by `m.<param>` / `v.<param>` */
  optimizer: Record<string, Float32Array>;
  method: MethodState;
}

/** weblora.json and weblora-state.safetensors of a checkpoint folder, split into the optimizer's and the method's state. */
async function readCheckpoint(files: FileSource, where: string, spec: MethodSpec): Promise<Checkpoint> {
  const info = await readCheckpointInfo(files, where);
  if (info.method !== spec.name) throw new Error(`${where} was trained with --method ${info.method}, not ${spec.name}`);
  const st = parseSafetensors(await files.read(CHECKPOINT_TENSORS), `${where}/${CHECKPOINT_TENSORS}`);
  const optimizer: Record<string, Float32Array> = {}, tensors: Record<string, Float32Array> = {};
  for (const [name, t] of st.tensors) {
    if (name.startsWith('optimizer.')) optimizer[name.slice('optimizer.'.length)] = tensorToF32(t);
    else if (name.startsWith('method.')) tensors[name.slice('method.'.length)] = tensorToF32(t);
  }
  const { adam_t, ...json } = info.method_state as { adam_t?: number };
  return { info, adamT: adam_t ?? info.step, optimizer, method: { json, tensors } };
}

/** --init-adapter's config decides r, α, rsLoRA and the targets: settings may repeat them, never contradict them. */
function checkInitClash(s: SessionSettings, c: Record<string, unknown>) {
  const clash = (k: string, given: unknown, has: unknown) => {
    if (given !== undefined && has !== undefined && given !== has) throw new Error(`--${k} ${String(given)} contradicts --init-adapter's ${k} ${String(has)}`);
  };
  if (String(c.peft_type).toUpperCase() !== 'ADALORA') clash('rank', s.r, c.r);
  clash('alpha', s.alpha, c.lora_alpha);
  if (s.rslora && !c.use_rslora) throw new Error('--rslora contradicts --init-adapter (use_rslora false)');
  if (s.targets?.length && Array.isArray(c.target_modules)) {
    const t = [...s.targets].sort().join(',');
    if (t !== [...(c.target_modules as string[])].sort().join(',')) throw new Error(`--targets ${s.targets.join(',')} contradicts --init-adapter's target_modules ${(c.target_modules as string[]).join(',')}`);
  }
}
