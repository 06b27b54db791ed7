// The training loop: batches (in order or a seeded shuffle) → K micro-batches per optimizer step (gradient
// accumulation) → AdamW with the schedule's lr → losses read back in groups.
//
// Loss scale, as transformers ≥ 4.46 with num_items_in_batch: every micro-batch's summed token CE is multiplied by
// 1 / (label tokens over all K micro-batches of the step), so the accumulated gradient is that of the mean loss
// over the step's tokens, whatever the padding, and the step's lossSum IS that mean.
//
// The GPU never waits for the CPU inside a step: each micro-batch is one Step (one submit), the last one also
// records the optimizer and copies lossSum into a ring buffer slot; the ring is read back every `readEvery`
// steps (one stall per group), and the per-step losses of the group are then reported in order.
import type { Gpu } from '../gpu/runtime';
import type { AdapterParam } from '../adapters/types';
import { AdamW, type AdamWOptions } from './optimizer';
import { lrAtStep, type ScheduleName } from './schedules';
import { batchOrder } from '../data/batch';
import type { MethodRun } from '../adapters/method';

/** What the trainer needs from the model (CausalLM satisfies it). */
export interface TrainableModel {
  uploadBatch(batch: { ids: Uint32Array; labels: Int32Array; B: number; T: number; lossScale: number }): void;
  record(step: import('../gpu/runtime').Step, opts: { backward: boolean; accumulate: boolean }): Promise<void>;
  lossSum: GPUBuffer;
}

/** One micro-batch as makeBatch gives it: labels already shifted (labels[t] = target of position t, −100 = none). */
export interface Batch {
  ids: Uint32Array;
  labels: Int32Array;
  nLabelTokens: number;
}

export interface TrainOptions extends AdamWOptions {
  steps: number;
  batch: number;
  seq: number;
  lr: number;
  schedule: ScheduleName;
  warmup: number;
  gradAccum: number;
  shuffle: boolean;
  seed: number;
  /** read the loss ring back every N optimizer steps (default 10) */
  readEvery?: number;
  /** the method's hooks into each optimizer step (AdaLoRA, Delta-LoRA, ...), see adapters/method.ts */
  hooks?: Pick<MethodRun, 'beforeOptimizer' | 'afterOptimizer' | 'afterStep'>;
}

export interface StepRecord {
  step: number; // 1-based
  loss: number; // mean CE over the step's label tokens
  lr: number; // base lr this step ran at
}

export interface Progress {
  step: number;
  steps: number;
  loss: number;
  lr: number;
  /** tokens (B·T per micro-batch) per second over the latest group of steps */
  tokensPerSec: number;
  /** remaining steps × the latest group's seconds per step */
  etaSec: number;
  elapsedSec: number;
}

// ---------- the loop ----------

export class Trainer {
  readonly optimizer: AdamW;
  private ring: GPUBuffer;
  private readEvery: number;
  /** optimizer steps done */
  stepsDone = 0;
  stopped = false;

  constructor(
    private gpu: Gpu,
    private model: TrainableModel,
    params: AdapterParam[],
    /** number of examples, and a function building micro-batch `indices` (makeBatch over those examples) */
    private data: { count: number; batch: (indices: number[]) => Batch },
    private opts: TrainOptions,
  ) {
    for (const k of ['steps', 'batch', 'seq', 'gradAccum'] as const)
      if (!Number.isInteger(opts[k]) || opts[k] < 1) throw new Error(`${k} must be a positive integer, got ${opts[k]}`);
    this.optimizer = new AdamW(gpu, params, opts);
    if (this.optimizer.size === 0) throw new Error('no trainable parameters');
    this.readEvery = Math.max(1, opts.readEvery ?? 10);
    this.ring = gpu.buffer(this.readEvery * 4, 'loss ring');
    if (data.count < 1) throw new Error('the dataset has no examples');
  }

  /** examples of micro-batch m (0-based over the whole run): io's batchOrder, (m·B + j) mod n without shuffle */
  indices(m: number): number[] {
    return batchOrder(this.data.count, this.opts.batch, m, { noShuffle: !this.opts.shuffle, seed: this.opts.seed });
  }

  lrAt(step: number): number {
    return lrAtStep(this.opts.lr, { name: this.opts.schedule, warmup: this.opts.warmup, total: this.opts.steps }, step);
  }

  /**
   * Runs the remaining steps. `onSteps` gets each step's record, in order, in groups of `readEvery`;
   * `onProgress` once per group. Returns every step's loss.
   */
  async run(onSteps?: (recs: StepRecord[]) => void, onProgress?: (p: Progress) => void): Promise<StepRecord[]> {
    const { gpu, model, opts } = this;
    const K = opts.gradAccum;
    const all: StepRecord[] = [];
    let pending: { step: number; lr: number }[] = [];
    const t0 = performance.now();
    // rates from the latest group only: the first one also pays for pipeline compilation
    let tPrev = t0;
    let tokens = 0;
    while (this.stepsDone < opts.steps && !this.stopped) {
      const stepNo = this.stepsDone + 1;
      const lr = this.lrAt(stepNo);
      const batches: Batch[] = [];
      for (let k = 0; k < K; k++) batches.push(this.data.batch(this.indices(this.stepsDone * K + k)));
      const total = batches.reduce((a, b) => a + b.nLabelTokens, 0);
      const lossScale = total > 0 ? 1 / total : 0;
      for (let k = 0; k < K; k++) {
        const b = batches[k];
        // written at queue time: after the previous micro-batch's submit, before this one's
        model.uploadBatch({ ids: b.ids, labels: b.labels, B: opts.batch, T: opts.seq, lossScale });
        const step = gpu.step(`train ${stepNo}.${k}`);
        if (k === 0) step.clear(model.lossSum, 0, 4);
        await model.record(step, { backward: true, accumulate: k > 0 });
        if (k === K - 1) {
          await opts.hooks?.beforeOptimizer?.(step, model.lossSum, stepNo);
          await this.optimizer.record(step, lr);
          await opts.hooks?.afterOptimizer?.(step, stepNo);
          step.copy(model.lossSum, 0, this.ring, pending.length * 4, 4);
        }
        step.submit();
        tokens += opts.batch * opts.seq;
      }
      await opts.hooks?.afterStep?.(stepNo);
      pending.push({ step: stepNo, lr });
      this.stepsDone = stepNo;
      if (pending.length === this.readEvery || this.stepsDone === opts.steps || this.stopped) {
        const losses = await gpu.readF32(this.ring, pending.length);
        const recs = pending.map((p, i) => ({ step: p.step, loss: losses[i], lr: p.lr }));
        pending = [];
        all.push(...recs);
        onSteps?.(recs);
        const now = performance.now();
        const groupSec = (now - tPrev) / 1000;
        tPrev = now;
        const last = recs[recs.length - 1];
        onProgress?.({
          step: this.stepsDone,
          steps: opts.steps,
          loss: last.loss,
          lr: last.lr,
          tokensPerSec: tokens / Math.max(groupSec, 1e-9),
          etaSec: (groupSec / recs.length) * (opts.steps - this.stepsDone),
          elapsedSec: (now - t0) / 1000,
        });
        tokens = 0;
      }
    }
    return all;
  }
}

/**
 * Mean next-token CE over every example (sum of token losses over all examples / all label tokens), forward
 * only, in batches of `B` (the last one smaller). One readback at the end.
 */
export async function evaluateLoss(
  gpu: Gpu,
  model: TrainableModel,
  data: { count: number; batch: (indices: number[]) => Batch },
  B: number,
  T: number,
): Promise<{ loss: number; tokens: number }> {
  let tokens = 0;
  for (let start = 0; start < data.count; start += B) {
    const idx: number[] = [];
    for (let i = start; i < Math.min(start + B, data.count); i++) idx.push(i);
    const b = data.batch(idx);
    tokens += b.nLabelTokens;
    model.uploadBatch({ ids: b.ids, labels: b.labels, B: idx.length, T, lossScale: 1 });
    const step = gpu.step('eval');
    if (start === 0) step.clear(model.lossSum, 0, 4);
    await model.record(step, { backward: false, accumulate: false });
    step.submit();
  }
  const [sum] = await gpu.readF32(model.lossSum, 1);
  return { loss: tokens ? sum / tokens : NaN, tokens };
}
