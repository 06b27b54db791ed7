// What the library keeps about one run: the list metadata (cheap to read for every entry) and, stored apart,
// the files (adapter weights, checkpoint state) that are read only when one entry is used.
// Pure data and checks, no DOM: the Node unit tests import this file.
import type { SessionSettings } from '../../src/engine/train/session';

/** Bumped when a stored field changes meaning; normalizeEntry upgrades older entries on read. */
export const SCHEMA_VERSION = 1;

/**
 * The training settings a run was started with: the session's own (the main app stores session.settings as they
 * are), with the method as a plain string so records of a method this build lacks still read.
 */
export type RunSettings = Omit<SessionSettings, 'method'> & { method: string };

export interface HistoryPoint {
  step: number;
  loss: number;
  lr: number;
  valLoss?: number;
}

export interface RunStats {
  /** training throughput, tokens (batch × seq per micro-batch) per second, averaged over the run */
  tokensPerSec: number | null;
  /** peak GPU bytes the run allocated, when the engine measured it */
  peakMemoryBytes?: number | null;
  trainableParams: number | null;
}

export type RecordKind = 'checkpoint' | 'adapter';

/** One library entry without its files: what the list and the compare view read. */
export interface LibraryEntry {
  schema: number;
  id: string;
  name: string;
  /** a MethodName ('lora', 'dora', ...) */
  method: string;
  /** base_model_name_or_path, e.g. 'HuggingFaceTB/SmolLM2-135M' */
  baseModel: string;
  /** ms since the epoch */
  createdAt: number;
  updatedAt: number;
  /** optimizer steps done (0 for an imported adapter whose history is unknown) */
  steps: number;
  totalSteps: number;
  finalTrainLoss: number | null;
  finalValLoss: number | null;
  /** bytes of all stored files */
  sizeBytes: number;
  /** a checkpoint can resume training; an adapter is final (trained here, or imported) */
  kind: RecordKind;
  /** null for an imported adapter: its training settings are unknown */
  settings: RunSettings | null;
  history: HistoryPoint[];
  stats: RunStats;
  /** where it came from: trained in this browser, or imported from files */
  source: 'trained' | 'imported';
  /** number of training examples, when known (model card) */
  dataSize?: number | null;
  /** the data set's file name, when known */
  dataName?: string | null;
  /** log lines of the run (training_log.txt in the download) */
  log?: string[];
  /** what adapter_config.json says (read when the record is made) */
  adapter?: AdapterInfo | null;
}

export interface AdapterInfo {
  peftType: string;
  r: number | null;
  alpha: number | null;
  rslora: boolean;
  targets: string[];
}

/** The few adapter_config.json fields the list and the model card show; null when it does not parse. */
export function adapterInfo(configBytes: Uint8Array | undefined): AdapterInfo | null {
  if (!configBytes) return null;
  try {
    const c = JSON.parse(new TextDecoder().decode(configBytes));
    if (!c || typeof c !== 'object') return null;
    const peftType = String(c.peft_type ?? 'LORA').toUpperCase();
    const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
    const tm = c.target_modules;
    return {
      peftType,
      // AdaLoRA's r is the target rank; the adapter starts at init_r
      r: n(peftType === 'ADALORA' ? c.init_r ?? c.r : c.r),
      alpha: n(c.lora_alpha),
      rslora: !!c.use_rslora,
      targets: Array.isArray(tm) ? tm.map(String) : typeof tm === 'string' ? [tm] : [],
    };
  } catch {
    return null;
  }
}

/** An entry with its files (adapter_config.json, adapter_model.safetensors, weblora.json, ...). */
export interface LibraryRecord extends LibraryEntry {
  files: Record<string, Uint8Array>;
}

export const METHOD_TITLES: Record<string, string> = {
  lora: 'LoRA',
  loraplus: 'LoRA+',
  vera: 'VeRA',
  lorafa: 'LoRA-FA',
  loradrop: 'LoRA-drop',
  adalora: 'AdaLoRA',
  dora: 'DoRA',
  deltalora: 'Delta-LoRA',
};

export function methodTitle(method: string, settings?: RunSettings | null, adapter?: AdapterInfo | null): string {
  const base = METHOD_TITLES[method] ?? method;
  return (settings?.rslora || adapter?.rslora) && method === 'lora' ? 'rsLoRA' : base;
}

/** A sortable, collision-safe id: time first so keys list in creation order. */
export function newId(now = Date.now()): string {
  const rand = Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, '0');
  return `${now.toString(36).padStart(9, '0')}-${rand}`;
}

export function filesSize(files: Record<string, Uint8Array>): number {
  let n = 0;
  for (const f of Object.values(files)) n += f.byteLength;
  return n;
}

/** The last finite training loss and the last recorded validation loss of a history. */
export function finalLosses(history: HistoryPoint[]): { train: number | null; val: number | null } {
  let train: number | null = null;
  let val: number | null = null;
  for (const h of history) {
    if (Number.isFinite(h.loss)) train = h.loss;
    if (h.valLoss !== undefined && Number.isFinite(h.valLoss)) val = h.valLoss;
  }
  return { train, val };
}

/** What the main app hands over when it saves a run (everything else is derived). */
export interface NewRecordInput {
  name?: string;
  kind: RecordKind;
  method: string;
  baseModel: string;
  settings: RunSettings | null;
  history: HistoryPoint[];
  stats: RunStats;
  files: Record<string, Uint8Array>;
  steps?: number;
  totalSteps?: number;
  dataSize?: number | null;
  dataName?: string | null;
  log?: string[];
  source?: 'trained' | 'imported';
  /** keeps the id (and createdAt) of an existing record: a checkpoint saved again replaces its older self */
  id?: string;
  createdAt?: number;
}

export function defaultName(method: string, baseModel: string, kind: RecordKind, settings: RunSettings | null, at: number): string {
  const model = baseModel.split('/').pop() || baseModel || 'model';
  const date = new Date(at).toISOString().slice(0, 16).replace('T', ' ');
  return `${methodTitle(method, settings)} · ${model}${kind === 'checkpoint' ? ' (checkpoint)' : ''} · ${date}`;
}

export function makeRecord(input: NewRecordInput, now = Date.now()): LibraryRecord {
  if (!input.files['adapter_config.json'] || !input.files['adapter_model.safetensors']) {
    throw new Error('a library record needs adapter_config.json and adapter_model.safetensors');
  }
  const history = input.history.map((h) => ({ ...h }));
  const losses = finalLosses(history);
  const createdAt = input.createdAt ?? now;
  const steps = input.steps ?? (history.length ? history[history.length - 1].step : 0);
  return {
    schema: SCHEMA_VERSION,
    id: input.id ?? newId(now),
    name: input.name?.trim() || defaultName(input.method, input.baseModel, input.kind, input.settings, createdAt),
    method: input.method,
    baseModel: input.baseModel,
    createdAt,
    updatedAt: now,
    steps,
    totalSteps: input.totalSteps ?? input.settings?.steps ?? steps,
    finalTrainLoss: losses.train,
    finalValLoss: losses.val,
    sizeBytes: filesSize(input.files),
    kind: input.kind,
    settings: input.settings,
    history,
    stats: { ...input.stats },
    source: input.source ?? 'trained',
    dataSize: input.dataSize ?? null,
    dataName: input.dataName ?? null,
    ...(input.log?.length ? { log: [...input.log] } : {}),
    adapter: adapterInfo(input.files['adapter_config.json']),
    files: input.files,
  };
}

/** Splits a record into what is listed and what is loaded on demand. */
export function splitRecord(rec: LibraryRecord): { entry: LibraryEntry; files: Record<string, Uint8Array> } {
  const { files, ...entry } = rec;
  return { entry, files };
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * Reads a stored entry of any schema version into the current shape, or null when it is not one of ours
 * (a foreign key in the store, a damaged value): the list skips those instead of failing as a whole.
 */
export function normalizeEntry(raw: unknown): LibraryEntry | null {
  if (!raw || typeof raw !== 'object') return null;
  const r = raw as Record<string, unknown>;
  if (typeof r.id !== 'string' || !r.id) return null;
  const schema = typeof r.schema === 'number' ? r.schema : 0;
  if (schema > SCHEMA_VERSION) return null; // written by a newer WebLoRA: leave it alone, do not misread it
  const history: HistoryPoint[] = Array.isArray(r.history)
    ? r.history.flatMap((h) => {
        if (!h || typeof h !== 'object') return [];
        const p = h as Record<string, unknown>;
        const step = num(p.step), loss = num(p.loss);
        if (step === null || loss === null) return [];
        // schema 0 (first drafts) called the validation loss val_loss, as the CLI's JSON lines do
        const valLoss = num(p.valLoss ?? p.val_loss);
        return [{ step, loss, lr: num(p.lr) ?? 0, ...(valLoss !== null ? { valLoss } : {}) }];
      })
    : [];
  const stats = (r.stats && typeof r.stats === 'object' ? r.stats : {}) as Record<string, unknown>;
  const losses = finalLosses(history);
  const createdAt = num(r.createdAt) ?? 0;
  const settings = r.settings && typeof r.settings === 'object' ? (r.settings as RunSettings) : null;
  const method = typeof r.method === 'string' ? r.method : settings?.method ?? 'lora';
  const steps = num(r.steps) ?? (history.length ? history[history.length - 1].step : 0);
  return {
    schema: SCHEMA_VERSION,
    id: r.id,
    name: typeof r.name === 'string' && r.name.trim() ? r.name : `Untitled ${r.id}`,
    method,
    baseModel: typeof r.baseModel === 'string' ? r.baseModel : '',
    createdAt,
    updatedAt: num(r.updatedAt) ?? createdAt,
    steps,
    totalSteps: num(r.totalSteps) ?? settings?.steps ?? steps,
    finalTrainLoss: r.finalTrainLoss === undefined ? losses.train : num(r.finalTrainLoss),
    finalValLoss: r.finalValLoss === undefined ? losses.val : num(r.finalValLoss),
    sizeBytes: num(r.sizeBytes) ?? 0,
    kind: r.kind === 'checkpoint' ? 'checkpoint' : 'adapter',
    settings,
    history,
    stats: {
      tokensPerSec: num(stats.tokensPerSec),
      peakMemoryBytes: num(stats.peakMemoryBytes),
      trainableParams: num(stats.trainableParams),
    },
    source: r.source === 'imported' ? 'imported' : 'trained',
    dataSize: num(r.dataSize),
    dataName: typeof r.dataName === 'string' ? r.dataName : null,
    ...(Array.isArray(r.log) ? { log: r.log.map(String) } : {}),
    adapter: normalizeAdapterInfo(r.adapter),
  };
}

function normalizeAdapterInfo(v: unknown): AdapterInfo | null {
  if (!v || typeof v !== 'object') return null;
  const a = v as Record<string, unknown>;
  if (typeof a.peftType !== 'string') return null;
  return { peftType: a.peftType, r: num(a.r), alpha: num(a.alpha), rslora: !!a.rslora, targets: Array.isArray(a.targets) ? a.targets.map(String) : [] };
}
