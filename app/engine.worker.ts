// The engine's home in the browser: a dedicated module worker, driven from the page through comlink.
// Everything GPU-side (device, buffers, pipelines, the training loop) lives here so the page never janks.
// State kept here: the loaded base model (CPU copy), the dataset text and its prepared form, the current run.
import * as Comlink from 'comlink';
import { METHOD_NAMES, resolveOptions, selectLayers, type CommonHyper, type MethodName } from '../src/engine/adapters/method';
import { METHODS, loadAnyAdapter } from '../src/engine/adapters/registry';
import { memorySource } from '../src/engine/io/files';
import type { AdapterModule } from '../src/engine/adapters/types';
import type { DeviceInfo } from '../src/engine/gpu/device';
import { getGpu, gpuModel, releaseModel, waitForDeviceLoss } from './worker/gpu';
import { loadModel, type LoadedModel } from './worker/model';
import { prepareDataset, type PreparedDataset } from './worker/dataset';
import { estimateMemory } from './worker/estimate';
import { siteSource } from './worker/sources';
import { TrainingRun, generateText } from './worker/training';
import type { DataOptions, DatasetInfo, LoadProgress, MemoryEstimate, MethodInfo, ModelInfo, ModelSource, TrainEvents, TrainRequest } from './worker/types';

export type * from './worker/types';

export interface GpuReport {
  info: DeviceInfo;
  /** every feature the adapter offers (info.features holds only those the device was created with) */
  adapterFeatures: string[];
  isFallbackAdapter: boolean;
}

export const DEMO_DATASETS = ['demo-define', 'demo-style', 'demo-define-eval'] as const;

let model: LoadedModel | null = null;
let loading: AbortController | null = null;
let dataset: { name: string; text: string; options: DataOptions; prepared: PreparedDataset } | null = null;

function usableDataset(): PreparedDataset {
  if (!dataset) throw new Error('Load a dataset first.');
  if (!dataset.prepared.info.train) throw new Error(`${dataset.name} has no usable training examples (see the bad rows on the Data step).`);
  return dataset.prepared;
}
let run: TrainingRun | null = null;
/** Stop or pause pressed while a run was still being set up (before it existed): done as soon as it exists. */
let whenStarted: 'stop' | 'pause' | null = null;
/** an adapter loaded from the library for a try-out: generate() uses it */
let tryout: { describe: string; lm: Awaited<ReturnType<typeof gpuModel>>['lm']; modules: Map<string, AdapterModule> } | null = null;

function needModel(): LoadedModel {
  if (!model) throw new Error('Load a model first.');
  return model;
}

function commonFor(m: ModelInfo, r: number, alpha: number, targets: string[]): CommonHyper {
  return { r, alpha, rslora: false, targets, seed: 42, steps: 100, baseModel: m.id, fanInFanOut: m.arch === 'gpt2' };
}

const api = {
  /** Acquires the GPU device (once) and describes its adapter. Rejects with a readable message when there is none. */
  async probe(): Promise<GpuReport> {
    const g = await getGpu();
    const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
    return {
      info: g.info,
      adapterFeatures: adapter ? [...adapter.features].map(String).sort() : g.info.features,
      isFallbackAdapter: Boolean((adapter?.info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter),
    };
  },

  /** Resolves with the reason when the device is lost (not when the engine replaces it on purpose). */
  deviceLost(): Promise<string> {
    return waitForDeviceLoss();
  },

  /** The methods this build has, in the order, with their options and defaults. */
  methods(): MethodInfo[] {
    return METHOD_NAMES.flatMap((n) => {
      const s = METHODS[n];
      if (!s) return [];
      return [{ name: s.name, title: s.title, summary: s.summary, options: { ...s.options }, defaults: { ...s.defaults }, rejects: [...(s.rejects ?? [])] }];
    });
  },

  async loadModel(src: ModelSource, onProgress?: (p: LoadProgress) => void): Promise<ModelInfo> {
    if (run && !run.done) throw new Error('A training run is in progress: stop it before loading another model.');
    loading?.abort();
    const me = (loading = new AbortController());
    let loaded: LoadedModel;
    try {
      loaded = await loadModel(src, (p) => void Promise.resolve(onProgress?.(p)).catch(() => {}), me.signal);
    } catch (e) {
      // an abort mid-file surfaces as whatever the stream's reader saw (Cache.put: "network error"): say what it was
      if (me.signal.aborted) throw new Error('The download was cancelled.');
      throw e;
    }
    if (me !== loading || me.signal.aborted) throw new Error('The download was cancelled.');
    loading = null;
    releaseModel();
    model = loaded;
    run = null;
    tryout = null;
    return loaded.info;
  },

  /** Cancels a Hub download in flight (files already complete stay in the cache). */
  cancelLoad(): void {
    loading?.abort(new Error('The download was cancelled.'));
  },

  modelInfo(): ModelInfo | null {
    return model?.info ?? null;
  },

  /** Trainable parameters of every method for these settings, and the memory estimate for the chosen one. */
  async plan(p: { method: MethodName; r: number; alpha: number; targets: string[]; options: Record<string, Record<string, number | boolean>>; batch: number; seq: number }): Promise<{ counts: Partial<Record<MethodName, number>>; estimate: MemoryEstimate; adaptedLayers: number }> {
    const m = needModel();
    const layers = selectLayers(m.info.linears as never, p.targets);
    const counts: Partial<Record<MethodName, number>> = {};
    for (const n of METHOD_NAMES) {
      const s = METHODS[n];
      if (!s) continue;
      const r = n === p.method ? p.r : s.defaults?.r ?? p.r;
      try {
        counts[n] = s.countParams(layers, commonFor(m.info, r, p.alpha, p.targets), resolveOptions(s, p.options[n] ?? {}));
      } catch {
        counts[n] = NaN; // an option out of range: the method panel says which
      }
    }
    const g = await getGpu();
    let largest = { name: 'weight', bytes: 0 };
    for (const [name, t] of m.files.tensors) if (t.data.byteLength > largest.bytes) largest = { name, bytes: t.data.byteLength };
    const limits = { maxBufferSize: g.info.limits.maxBufferSize, maxStorageBufferBindingSize: g.info.limits.maxStorageBufferBindingSize };
    const estimate = estimateMemory(m.info, { batch: p.batch, seq: p.seq, r: p.r, adapterParams: counts[p.method] || 0, adaptedLayers: layers.length }, limits, largest);
    return { counts, estimate, adaptedLayers: layers.length };
  },

  /** A dataset file (or a shipped demo by name), parsed, checked row by row, tokenized and split. */
  async loadDataset(input: { kind: 'demo'; name: string } | { kind: 'file'; file: File }, options: DataOptions): Promise<DatasetInfo> {
    const m = needModel();
    let name: string, text: string;
    if (input.kind === 'demo') {
      name = `${input.name}.jsonl`;
      text = await siteSource('datasets', [name]).readText(name);
    } else {
      name = input.file.name;
      text = await input.file.text();
    }
    const prepared = prepareDataset(name, text, m.files.tokenizer, options);
    dataset = { name, text, options, prepared };
    return prepared.info;
  },

  /** The same file again with other options (format, masking, split, sequence length) or after a model change. */
  async reprepareDataset(options: DataOptions): Promise<DatasetInfo | null> {
    if (!dataset) return null;
    const prepared = prepareDataset(dataset.name, dataset.text, needModel().files.tokenizer, options);
    dataset = { ...dataset, options, prepared };
    return prepared.info;
  },

  /** Starts a run (or resumes a checkpoint's files); progress arrives through `events`. */
  async startTraining(req: TrainRequest, events: TrainEvents, resumeFiles?: Record<string, Uint8Array>, runId?: string): Promise<void> {
    const m = needModel();
    if (run && !run.done && run.state !== 'paused') throw new Error('A run is already in progress.');
    if (run && run.state === 'paused') await run.stop();
    if (dataset && dataset.options.seq !== req.seq) await api.reprepareDataset({ ...dataset.options, seq: req.seq });
    const data = usableDataset();
    tryout = null;
    run = null;
    whenStarted = null;
    run = await TrainingRun.start(m, data, req, events, resumeFiles && memorySource(resumeFiles), runId);
    if (whenStarted === 'stop') void run.stop();
    if (whenStarted === 'pause') run.pause();
  },

  pause(): void {
    if (!run) whenStarted ??= 'pause';
    run?.pause();
  },
  resume(): void {
    run?.resume();
  },
  async stop(): Promise<void> {
    if (!run) whenStarted = 'stop';
    await run?.stop();
  },

  /** adapter_config.json + adapter_model.safetensors of the current run (paused, stopped or finished). */
  async exportAdapter(): Promise<Record<string, Uint8Array>> {
    if (!run) throw new Error('No run to export.');
    if (!run.done && run.state !== 'paused') throw new Error('Pause or stop the run first.');
    return run.session.exportAdapter();
  },

  /** The PEFT files + weblora.json + weblora-state.safetensors (resumable). */
  async checkpoint(): Promise<Record<string, Uint8Array>> {
    if (!run) throw new Error('No run to save.');
    if (!run.done && run.state !== 'paused') throw new Error('Pause or stop the run first.');
    return run.session.checkpoint();
  },

  /** Loads a PEFT adapter (from the library) onto the base model for generate(). */
  async loadAdapter(files: Record<string, Uint8Array>, where = 'adapter'): Promise<{ describe: string }> {
    const m = needModel();
    if (run && !run.done && run.state !== 'paused') throw new Error('Stop the training run first.');
    run = null;
    const { gpu, lm } = await gpuModel(m, 1, Math.min(512, m.info.contextLength), false, true);
    const ctx = {
      gpu, model: lm, layers: lm.linearLayers(), maxTokens: lm.maxTokens, common: commonFor(m.info, 8, 8, []), options: {},
      log: () => {},
    };
    const { run: loaded } = await loadAnyAdapter(ctx, memorySource(files), where);
    lm.setAdapters(loaded.modules);
    tryout = { describe: loaded.describe, lm, modules: loaded.modules };
    return { describe: loaded.describe };
  },

  /** Greedy answer from the current run's adapter, the try-out adapter, or the base model (withAdapter false). */
  async generate(prompt: string, maxNewTokens: number, withAdapter = true): Promise<string> {
    const m = needModel();
    if (run) return run.generate(prompt, maxNewTokens, withAdapter);
    if (tryout) {
      if (withAdapter) return generateText(tryout.lm, prompt, maxNewTokens);
      tryout.lm.setAdapters(new Map());
      try {
        return await generateText(tryout.lm, prompt, maxNewTokens);
      } finally {
        tryout.lm.setAdapters(tryout.modules);
      }
    }
    const { lm } = await gpuModel(m, 1, Math.min(512, m.info.contextLength), false, true);
    return generateText(lm, prompt, maxNewTokens);
  },
};

export type EngineApi = typeof api;

Comlink.expose(api);
