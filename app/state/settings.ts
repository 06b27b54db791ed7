// The method and every training setting, kept in localStorage so a reload keeps them. The worker turns them into
// parameter counts and the memory estimate (plan), refreshed whenever they or the model change.
import { create } from 'zustand';
import { persist } from 'zustand/middleware';
import { call } from '../engine';
import type { MemoryEstimate, MethodInfo, MethodName, ModelInfo, TrainRequest } from '../worker/types';

export interface Settings {
  method: MethodName;
  r: number;
  alpha: number;
  rslora: boolean;
  /** PEFT's lora_dropout, 0 ≤ p < 1 (methods that refuse it get none) */
  dropout: number;
  /** null: the model's default targets (PEFT's per-architecture mapping) */
  targets: string[] | null;
  /** per method, its own options by flag name (only those changed from the defaults) */
  methodOptions: Partial<Record<MethodName, Record<string, number | boolean>>>;
  lr: number;
  schedule: 'constant' | 'linear' | 'cosine';
  warmup: number;
  useEpochs: boolean;
  steps: number;
  epochs: number;
  batch: number;
  gradAccum: number;
  seq: number;
  seed: number;
  weightDecay: number;
  maxGradNorm: number;
  evalEvery: number;
  sampleEvery: number;
  sampleTokens: number;
  /** the person's own sample prompts, one per line with \n for a line break; '' = the first validation prompts */
  samplePromptsText: string;
}

export const DEFAULT_SETTINGS: Settings = {
  method: 'lora', r: 8, alpha: 16, rslora: false, dropout: 0, targets: null, methodOptions: {}, lr: 2e-3, schedule: 'linear', warmup: 0,
  useEpochs: false, steps: 100, epochs: 1, batch: 8, gradAccum: 1, seq: 128, seed: 42, weightDecay: 0, maxGradNorm: 1,
  evalEvery: 25, sampleEvery: 50, sampleTokens: 24, samplePromptsText: '',
};

export type PresetName = 'quick' | 'quality';
export const PRESETS: Record<PresetName, { title: string; what: string; settings: (m: ModelInfo | null) => Partial<Settings> }> = {
  quick: {
    title: 'Quick look',
    what: 'a minute or two: see the loss move and the answers change',
    settings: () => ({ r: 8, alpha: 16, targets: null, lr: 2e-3, schedule: 'constant', warmup: 0, useEpochs: false, steps: 60, batch: 4, gradAccum: 1, seq: 64, evalEvery: 20, sampleEvery: 20 }),
  },
  quality: {
    title: 'Quality',
    what: 'every linear layer, a longer cosine schedule, larger effective batch',
    settings: (m) => ({
      r: 16, alpha: 32, targets: m ? [...m.moduleNames] : null, lr: 1e-3, schedule: 'cosine', warmup: 20, useEpochs: true, epochs: 2,
      batch: 8, gradAccum: 2, seq: Math.min(256, m?.contextLength ?? 256), evalEvery: 50, sampleEvery: 100,
    }),
  },
};

export interface Plan {
  counts: Partial<Record<MethodName, number>>;
  estimate: MemoryEstimate;
  adaptedLayers: number;
}

interface SettingsState extends Settings {
  methods: MethodInfo[];
  plan: Plan | null;
  planError: string | null;
  set(s: Partial<Settings>): void;
  setMethod(m: MethodName): void;
  setMethodOption(flag: string, value: number | boolean): void;
  applyPreset(p: PresetName, model: ModelInfo | null): void;
  loadMethods(): Promise<void>;
  refreshPlan(model: ModelInfo | null): Promise<void>;
}

/** The targets in force for this model: the chosen ones that it has, else its defaults. */
export function effectiveTargets(s: Pick<Settings, 'targets'>, m: ModelInfo | null): string[] {
  if (!m) return s.targets ?? [];
  if (!s.targets) return m.defaultTargets;
  const mine = s.targets.filter((t) => m.moduleNames.includes(t));
  // names from another model's family (c_attn on a Llama): that model's choice does not carry over
  return s.targets.length && !mine.length ? m.defaultTargets : mine;
}

/** The options of a method: its defaults with the person's changes over them. */
export function methodOptionsOf(s: Pick<Settings, 'methodOptions'>, spec: MethodInfo | undefined): Record<string, number | boolean> {
  if (!spec) return {};
  const out: Record<string, number | boolean> = {};
  for (const [flag, o] of Object.entries(spec.options)) out[flag] = s.methodOptions[spec.name]?.[flag] ?? o.default;
  return out;
}

export function stepsFor(s: Settings, trainExamples: number): number {
  if (!s.useEpochs) return s.steps;
  return Math.max(1, Math.ceil((s.epochs * Math.max(1, trainExamples)) / (s.batch * s.gradAccum)));
}

/** The prompts sample generations use: the person's own, else the dataset's first validation prompts. */
export function promptsFor(s: Pick<Settings, 'samplePromptsText'>, dataPrompts: string[]): string[] {
  const own = s.samplePromptsText.split('\n').filter((l) => l.trim()).map((l) => l.replace(/\\n/g, '\n'));
  return own.length ? own : dataPrompts;
}

export function trainRequest(s: Settings, m: ModelInfo, trainExamples: number, dataPrompts: string[], methods: MethodInfo[]): TrainRequest {
  const spec = methods.find((x) => x.name === s.method);
  const samplePrompts = promptsFor(s, dataPrompts);
  return {
    method: s.method, r: s.r, alpha: s.alpha, rslora: s.rslora, dropout: s.dropout, targets: effectiveTargets(s, m), options: methodOptionsOf(s, spec),
    lr: s.lr, schedule: s.schedule, warmup: s.warmup, steps: stepsFor(s, trainExamples), batch: s.batch, gradAccum: s.gradAccum,
    seq: s.seq, seed: s.seed, weightDecay: s.weightDecay, maxGradNorm: s.maxGradNorm, evalEvery: s.evalEvery,
    sampleEvery: s.sampleEvery, samplePrompts, sampleTokens: s.sampleTokens,
  };
}

let planSeq = 0;

export const useSettings = create<SettingsState>()(
  persist(
    (set, get) => ({
      ...DEFAULT_SETTINGS,
      methods: [],
      plan: null,
      planError: null,
      set: (s) => set(s),
      setMethod(m) {
        const prev = get().methods.find((x) => x.name === get().method);
        const next = get().methods.find((x) => x.name === m);
        // a method with its own default rank (VeRA 256) takes it; back to a LoRA-like method, back to 8
        const r = next?.defaults.r ?? (prev?.defaults.r !== undefined ? DEFAULT_SETTINGS.r : get().r);
        set({ method: m, r });
      },
      setMethodOption(flag, value) {
        const m = get().method;
        set({ methodOptions: { ...get().methodOptions, [m]: { ...get().methodOptions[m], [flag]: value } } });
      },
      applyPreset(p, model) {
        set(PRESETS[p].settings(model));
      },
      async loadMethods() {
        if (get().methods.length) return;
        const methods = await call((api) => api.methods());
        set({ methods });
        if (!methods.some((m) => m.name === get().method)) set({ method: 'lora' });
      },
      async refreshPlan(model) {
        if (!model) {
          set({ plan: null });
          return;
        }
        const s = get();
        const my = ++planSeq;
        const options: Record<string, Record<string, number | boolean>> = {};
        for (const spec of s.methods) options[spec.name] = methodOptionsOf(s, spec);
        try {
          const plan = await call((api) => api.plan({ method: s.method, r: s.r, alpha: s.alpha, targets: effectiveTargets(s, model), options, batch: s.batch, seq: s.seq }));
          if (my === planSeq) set({ plan, planError: null });
        } catch (e) {
          if (my === planSeq) set({ planError: e instanceof Error ? e.message : String(e) });
        }
      },
    }),
    {
      name: 'weblora-settings',
      version: 1,
      partialize: (s) => {
        const out: Partial<Settings> = {};
        for (const k of Object.keys(DEFAULT_SETTINGS) as (keyof Settings)[]) (out as Record<string, unknown>)[k] = s[k];
        return out;
      },
    },
  ),
);
