// The worker's GPU: one device at a time, and the base model on it sized for batch × seq tokens. A model is reused by
// the next run when it is large enough and unchanged; otherwise the whole device is destroyed (WebGPU frees every
// buffer with it) and a new one is made, so trying many settings never piles up GPU memory.
import { Gpu } from '../../src/engine/gpu/runtime';
import { CausalLM } from '../../src/engine/model/causal-lm';
import type { LoadedModel } from './model';

let gpu: Gpu | null = null;
let creating: Promise<Gpu> | null = null;
/** devices destroyed on purpose: their `lost` is not news */
const retired = new WeakSet<GPUDevice>();
const lostWaiters: ((msg: string) => void)[] = [];
/** the first uncaptured GPU error of the current device (out of memory during a step, validation) */
let uncaptured: string | null = null;

export async function getGpu(): Promise<Gpu> {
  if (gpu && !gpu.lostReason) return gpu;
  creating ??= Gpu.create('high-performance').then(
    (g) => {
      gpu = g;
      creating = null;
      uncaptured = null;
      g.device.addEventListener('uncapturederror', (ev) => {
        const err = (ev as GPUUncapturedErrorEvent).error;
        uncaptured ??= `${err.constructor?.name === 'GPUOutOfMemoryError' ? 'out of memory: ' : ''}${err.message}`;
      });
      g.device.lost.then((l) => {
        if (retired.has(g.device)) return;
        model = null;
        const msg = l.message || l.reason || 'unknown reason';
        for (const w of lostWaiters.splice(0)) w(msg);
      });
      return g;
    },
    (e) => {
      creating = null;
      throw e;
    },
  );
  return creating;
}

/** Resolves when the device is lost for a reason other than our own destroy(). */
export function waitForDeviceLoss(): Promise<string> {
  return new Promise((resolve) => lostWaiters.push(resolve));
}

/** Throws (and clears) an uncaptured device error seen since the last call. */
export function checkUncaptured(): void {
  if (uncaptured) {
    const msg = uncaptured;
    uncaptured = null;
    throw new Error(`GPU error: ${msg}`);
  }
}

let model: { key: LoadedModel; lm: CausalLM; maxTokens: number; dirty: boolean } | null = null;

/**
 * The base model on the GPU with room for batch × seq tokens and no adapters. `willChangeWeights` (Delta-LoRA moves
 * W itself) marks it so the next run gets a fresh copy.
 */
export async function gpuModel(loaded: LoadedModel, batch: number, seq: number, willChangeWeights = false, anySize = false): Promise<{ gpu: Gpu; lm: CausalLM }> {
  const need = batch * seq;
  let g = await getGpu();
  // anySize (generation): a model of any size will do, prompts are cut to fit; no reload, no recompiled pipelines
  if (model && (model.key !== loaded || (!anySize && model.maxTokens < need) || model.dirty)) {
    retired.add(g.device);
    g.destroy();
    gpu = null;
    model = null;
    g = await getGpu();
  }
  if (!model) {
    const lm = await withOom(g, 'loading the model onto the GPU', () => CausalLM.load(g, loaded.files as never, { maxBatch: batch, maxSeq: seq }));
    model = { key: loaded, lm, maxTokens: lm.maxTokens, dirty: false };
  }
  model.lm.setAdapters(new Map());
  model.dirty ||= willChangeWeights;
  return { gpu: g, lm: model.lm };
}

/** Drops the GPU copy when another model is loaded (frees its memory at once). */
export function releaseModel(): void {
  if (!model || !gpu) return;
  retired.add(gpu.device);
  gpu.destroy();
  gpu = null;
  model = null;
}

/** Runs fn with out-of-memory and validation errors captured, so a failed allocation is an error here, not later. */
export async function withOom<T>(g: Gpu, what: string, fn: () => Promise<T>): Promise<T> {
  g.device.pushErrorScope('out-of-memory');
  g.device.pushErrorScope('validation');
  let out: T | undefined;
  let failure: unknown = null;
  try {
    out = await fn();
  } catch (e) {
    failure = e;
  }
  const validation = await g.device.popErrorScope();
  const oom = await g.device.popErrorScope();
  if (oom) throw new Error(`out of memory while ${what}: ${oom.message}`);
  if (failure) throw failure;
  if (validation) throw new Error(`GPU error while ${what}: ${validation.message}`);
  return out as T;
}
