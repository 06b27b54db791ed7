// One training run in the worker: a TrainingSession on the GPU model, driven in segments so that validation loss
// and sample generations happen between steps, and pause / resume / stop land after the step in flight.
//
//   start → eval(step 0) → base samples → [run until the next eval/sample step → eval / samples]* → finished
//   pause: session.stop() → run() returns after this step → 'paused'; resume: the loop again; stop: 'stopped'
import { TrainingSession, type SessionSettings } from '../../src/engine/train/session';
import { methodSpec } from '../../src/engine/adapters/registry';
import type { FileSource } from '../../src/engine/io/files';
import type { CausalLM } from '../../src/engine/model/causal-lm';
import type { Gpu } from '../../src/engine/gpu/runtime';
import { checkUncaptured, gpuModel, withOom } from './gpu';
import type { LoadedModel } from './model';
import type { PreparedDataset } from './dataset';
import type { RunState, Sample, TrainEvents, TrainRequest } from './types';

/** Greedy continuation of one prompt, as text. */
export async function generateText(lm: CausalLM, prompt: string, maxNewTokens: number): Promise<string> {
  const tok = lm.tokenizer;
  const ids: number[] = tok.encode(prompt, { addSpecialTokens: true });
  const room = Math.min(lm.maxTokens, lm.config.maxPositions) - 1;
  const out = await lm.generate(ids.slice(-room), { maxNewTokens: Math.max(1, Math.min(maxNewTokens, room)), greedy: true });
  return tok.decode(out, { skipSpecialTokens: true });
}

/** Base-model answers by (model, prompt, length): the base never changes, so they are computed once. */
const baseAnswers = new Map<string, string>();

/** The largest divisor of n that is ≤ 10: loss readbacks land exactly on eval and sample steps. */
function readEveryFor(n: number): number {
  for (let d = Math.min(10, n); d > 1; d--) if (n % d === 0) return d;
  return 1;
}
const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);

export class TrainingRun {
  state: RunState = 'preparing';
  private pauseRequested = false;
  private stopRequested = false;
  private looping: Promise<void> | null = null;
  private elapsedBefore = 0;
  private segmentStart = 0;
  private lastEvalStep = -1;
  private lastSampleStep = 0;

  private constructor(
    readonly runId: string,
    readonly session: TrainingSession,
    private gpu: Gpu,
    private lm: CausalLM,
    private loaded: LoadedModel,
    private data: PreparedDataset,
    readonly req: TrainRequest,
    private events: TrainEvents,
  ) {}

  /** `runId`: a resumed checkpoint keeps its library id, so saving it replaces the checkpoint. */
  static async start(loaded: LoadedModel, data: PreparedDataset, req: TrainRequest, events: TrainEvents, resume?: FileSource, runId?: string): Promise<TrainingRun> {
    const say = (s: RunState, d?: string) => void Promise.resolve(events.state(s, d)).catch(() => {});
    say('preparing', 'loading the model onto the GPU');
    const { gpu, lm } = await gpuModel(loaded, req.batch, req.seq, req.method === 'deltalora');
    const settings: SessionSettings = {
      method: req.method, r: req.r, alpha: req.alpha, rslora: req.rslora || undefined, dropout: req.dropout || undefined, targets: req.targets, seed: req.seed,
      options: req.options, steps: req.steps, batch: req.batch, seq: req.seq, lr: req.lr, schedule: req.schedule,
      warmup: req.warmup, gradAccum: req.gradAccum, weightDecay: req.weightDecay, maxGradNorm: req.maxGradNorm,
      logEvery: readEveryFor(gcd(req.evalEvery || req.steps, req.sampleEvery || req.steps)),
    };
    // the engine rejects settings a method does not take (VeRA: alpha, rslora; DoRA: dropout)
    const rejects = methodSpec(req.method).rejects ?? [];
    for (const k of rejects) delete (settings as unknown as Record<string, unknown>)[k];
    const samples = req.sampleEvery > 0 && req.samplePrompts.length > 0;
    if (samples) {
      say('preparing', 'base model answers');
      for (const p of req.samplePrompts) {
        const key = `${loaded.info.id}|${p}|${req.sampleTokens}`;
        if (!baseAnswers.has(key)) baseAnswers.set(key, await generateText(lm, p, req.sampleTokens));
      }
    }
    say('preparing', `creating the ${req.method} adapter`);
    const logs = (m: string) => void Promise.resolve(events.log(m)).catch(() => {});
    const session = await withOom(gpu, 'creating the adapter', () =>
      TrainingSession.create({
        gpu, model: lm, arch: loaded.info.arch, baseModel: loaded.info.id, data: data.train, settings, log: logs,
        resume: resume && { files: resume, where: 'the checkpoint' },
      }),
    );
    runId ??= `${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}-${req.method}`;
    const run = new TrainingRun(runId, session, gpu, lm, loaded, data, req, events);
    void Promise.resolve(
      events.started({
        runId, trainableParams: session.trainableParams, describe: session.method.describe, allocatedBytes: gpu.allocatedBytes,
        trainExamples: data.train.count, valExamples: data.val.count,
      }),
    ).catch(() => {});
    if (session.history.length) void Promise.resolve(events.steps(session.history)).catch(() => {});
    run.looping = run.loop();
    return run;
  }

  private say(s: RunState, detail?: string) {
    this.state = s;
    void Promise.resolve(this.events.state(s, detail)).catch(() => {});
  }

  /** Resolves when the loop ends (finished, paused, stopped or failed). */
  settled(): Promise<void> {
    return this.looping ?? Promise.resolve();
  }

  /** While preparing (the first validation loss), the run pauses before its first step. */
  pause() {
    if (this.state !== 'running' && this.state !== 'preparing') return;
    this.pauseRequested = true;
    this.say('pausing');
    this.session.stop();
  }

  resume() {
    if (this.state !== 'paused') return;
    this.pauseRequested = false;
    this.looping = this.loop();
  }

  async stop() {
    if (this.state === 'paused') {
      this.say('stopped');
      return;
    }
    if (this.state !== 'running' && this.state !== 'pausing' && this.state !== 'preparing') return;
    this.stopRequested = true;
    this.say('stopping');
    this.session.stop();
    await this.settled();
  }

  get done(): boolean {
    return this.state === 'finished' || this.state === 'stopped' || this.state === 'error';
  }

  private nextStop(from: number): number {
    const total = this.req.steps;
    const next = (every: number) => (every > 0 ? (Math.floor(from / every) + 1) * every : total);
    return Math.min(total, next(this.req.evalEvery), next(this.req.sampleEvery));
  }

  private async loop(): Promise<void> {
    const s = this.session;
    try {
      if (s.stepsDone === 0 && this.lastEvalStep < 0) await this.evaluate();
      if (!this.pauseRequested && !this.stopRequested) this.say('running');
      while (s.stepsDone < this.req.steps && !this.pauseRequested && !this.stopRequested) {
        const target = this.nextStop(s.stepsDone);
        this.segmentStart = performance.now();
        await s.run(
          (recs) => {
            const bad = recs.find((r) => !Number.isFinite(r.loss));
            if (bad) throw new Error(`the loss became ${bad.loss} at step ${bad.step}: training diverged. Lower the learning rate or keep gradient clipping on.`);
            void Promise.resolve(this.events.steps(recs)).catch(() => {});
            if (recs[recs.length - 1].step >= target) s.stop();
          },
          (p) => {
            const elapsedSec = this.elapsedBefore + (performance.now() - this.segmentStart) / 1000;
            void Promise.resolve(this.events.progress({ step: p.step, steps: p.steps, tokensPerSec: p.tokensPerSec, elapsedSec, etaSec: p.etaSec })).catch(() => {});
          },
        );
        this.elapsedBefore += (performance.now() - this.segmentStart) / 1000;
        checkUncaptured();
        const step = s.stepsDone;
        if (this.stopRequested) break;
        if (this.req.evalEvery > 0 && step % this.req.evalEvery === 0 && step < this.req.steps) await this.evaluate();
        if (this.req.sampleEvery > 0 && step - this.lastSampleStep >= this.req.sampleEvery && step < this.req.steps) await this.samples();
      }
      if (this.pauseRequested && !this.stopRequested && s.stepsDone < this.req.steps) return this.say('paused');
      // the end (or a stop): a last validation loss and samples for what was trained
      if (s.stepsDone > 0 && this.lastEvalStep !== s.stepsDone) await this.evaluate();
      if (s.stepsDone > this.lastSampleStep && this.req.sampleEvery > 0) await this.samples();
      this.say(s.stepsDone >= this.req.steps ? 'finished' : 'stopped');
    } catch (e) {
      this.say('error', e instanceof Error ? e.message : String(e));
    }
  }

  private async evaluate() {
    if (!this.data.val.count) return;
    const step = this.session.stepsDone;
    this.say(this.state, `validation loss at step ${step}`);
    const { loss } = await this.session.evaluate(this.data.val);
    checkUncaptured();
    this.lastEvalStep = step;
    void Promise.resolve(this.events.evaluated({ step, loss })).catch(() => {});
  }

  private async samples() {
    const step = this.session.stepsDone;
    const out: Sample[] = [];
    for (const prompt of this.req.samplePrompts) {
      const base = baseAnswers.get(`${this.loaded.info.id}|${prompt}|${this.req.sampleTokens}`) ?? '';
      out.push({ prompt, base, tuned: await generateText(this.lm, prompt, this.req.sampleTokens) });
    }
    this.lastSampleStep = step;
    void Promise.resolve(this.events.samples({ step, samples: out })).catch(() => {});
  }

  /** Answer with the adapter on, or the base model's (adapters off, then back on). */
  async generate(prompt: string, maxNewTokens: number, withAdapter: boolean): Promise<string> {
    if (this.state === 'running' || this.state === 'pausing' || this.state === 'stopping') throw new Error('pause or stop training first');
    if (withAdapter) return generateText(this.lm, prompt, maxNewTokens);
    this.lm.setAdapters(new Map());
    try {
      return await generateText(this.lm, prompt, maxNewTokens);
    } finally {
      this.lm.setAdapters(this.session.method.modules);
    }
  }

  get gpuBytes(): number {
    return this.gpu.allocatedBytes;
  }
}
