// Library runs in and out as files: the download zip (a PEFT adapter folder plus a model card, the training log
// and, for a checkpoint, WebLoRA's resume state) and the import of a PEFT adapter (a zip, the two files, or a
// folder), validated before anything is stored so a bad file gives a clear message and never a broken entry.
import { strFromU8, strToU8, unzipSync, zipSync, type Zippable } from 'fflate';
import { parseSafetensors } from '../../src/engine/io/safetensors';
import { parseLoraAdapter } from '../../src/engine/io/peft';
import { parseVeraAdapter } from '../../src/engine/io/peft-vera';
import { lossCurvePng, modelCardText } from './model-card';
import { adapterInfo, makeRecord, methodTitle, normalizeEntry, type AdapterInfo, type HistoryPoint, type LibraryEntry, type LibraryRecord, type NewRecordInput, type RunSettings, type RunStats } from './record';

export const CONFIG = 'adapter_config.json';
export const WEIGHTS = 'adapter_model.safetensors';
export const RUN_INFO = 'weblora-run.json';
/** the checkpoint's resume state (the lead's TrainingSession.checkpoint() writes them) */
export const CHECKPOINT_FILES = ['weblora.json', 'weblora-state.safetensors'];

/** An import or download problem: what happened (message) and what to try (hint). */
export class AdapterFileError extends Error {
  constructor(message: string, readonly hint: string) {
    super(message);
    this.name = 'AdapterFileError';
  }
}

// ---------- download ----------

/** training_log.jsonl: one {"step", "loss", "lr"[, "val_loss"]} per line, the keys the CLI's --json prints. */
export function trainingLogJsonl(history: HistoryPoint[]): string {
  return history.map((h) => JSON.stringify({ step: h.step, loss: h.loss, lr: h.lr, ...(h.valLoss !== undefined ? { val_loss: h.valLoss } : {}) }) + '\n').join('');
}

export function parseTrainingLog(text: string): HistoryPoint[] {
  const out: HistoryPoint[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const o = JSON.parse(line);
      if (typeof o?.step === 'number' && typeof o?.loss === 'number') {
        out.push({ step: o.step, loss: o.loss, lr: typeof o.lr === 'number' ? o.lr : 0, ...(typeof o.val_loss === 'number' ? { valLoss: o.val_loss } : {}) });
      }
    } catch {
      // a damaged line loses one point of the curve, not the import
    }
  }
  return out;
}

/** The fields of weblora-run.json: the entry minus what is derived from files and the log. */
function runInfo(e: LibraryEntry | LibraryRecord): Record<string, unknown> {
  const { history: _h, sizeBytes: _s, log: _l, ...rest } = e;
  delete (rest as Partial<LibraryRecord>).files; // a record's bytes are in the zip as files, not in this JSON
  return rest;
}

export function zipFileName(name: string): string {
  const slug = name.normalize('NFKD').replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 80);
  return `${slug || 'adapter'}.zip`;
}

/** DOS dates in a zip start at 1980; fflate throws outside 1980–2099. */
function zipDate(ms: number): Date {
  return new Date(Math.min(Math.max(ms, Date.UTC(1980, 0, 2)), Date.UTC(2099, 0, 1)));
}

/**
 * The download zip's files. `png` is the loss curve: pass null where there is no canvas (tests); by default it
 * is drawn here (OffscreenCanvas).
 */
export async function downloadFiles(rec: LibraryRecord, png?: Uint8Array | null): Promise<Record<string, Uint8Array>> {
  for (const f of [CONFIG, WEIGHTS]) {
    if (!rec.files[f]) throw new AdapterFileError(`“${rec.name}” has no ${f} in the library.`, 'Delete this entry and train or import the adapter again.');
  }
  const curve = png === undefined ? await lossCurvePng(rec.history, `${rec.name}: training loss`).catch(() => null) : png;
  const isCheckpoint = CHECKPOINT_FILES.some((f) => rec.files[f]);
  const out: Record<string, Uint8Array> = {
    [CONFIG]: rec.files[CONFIG],
    [WEIGHTS]: rec.files[WEIGHTS],
    'README.md': strToU8(modelCardText(rec, { hasLossCurve: !!curve, isCheckpoint })),
    [RUN_INFO]: strToU8(JSON.stringify(runInfo(rec), null, 2) + '\n'),
  };
  if (rec.history.length) out['training_log.jsonl'] = strToU8(trainingLogJsonl(rec.history));
  if (rec.log?.length) out['training_log.txt'] = strToU8(rec.log.join('\n') + '\n');
  if (curve) out['loss_curve.png'] = curve;
  for (const f of CHECKPOINT_FILES) if (rec.files[f]) out[f] = rec.files[f];
  return out;
}

export function zipFiles(files: Record<string, Uint8Array>, at = Date.now()): Uint8Array {
  const mtime = zipDate(at);
  const entries: Zippable = {};
  for (const [name, bytes] of Object.entries(files)) {
    // Weights and PNGs barely compress: store them, and keep the browser's main thread free for big adapters.
    const store = /\.(safetensors|png)$/.test(name);
    entries[name] = [bytes, { level: store ? 0 : 6, mtime }];
  }
  return zipSync(entries);
}

export async function buildDownloadZip(rec: LibraryRecord, png?: Uint8Array | null): Promise<{ fileName: string; bytes: Uint8Array }> {
  return { fileName: zipFileName(rec.name), bytes: zipFiles(await downloadFiles(rec, png), rec.updatedAt) };
}

// ---------- import ----------

export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && (bytes[2] === 3 || bytes[2] === 5);
}

export function unzipFiles(bytes: Uint8Array, where: string): Record<string, Uint8Array> {
  try {
    // macOS adds __MACOSX/ resource forks to zips made in Finder: never adapter files
    return unzipSync(bytes, { filter: (f) => !f.name.endsWith('/') && !f.name.startsWith('__MACOSX/') });
  } catch (e) {
    throw new AdapterFileError(`${where} is not a readable zip file (${(e as Error).message}).`, 'Download it again, or drop the adapter folder or its two files instead.');
  }
}

/**
 * The adapter folder within what was dropped: files may sit in a folder of the zip ("my-adapter/adapter_config.json")
 * or next to others (a training output with checkpoint-100/, checkpoint-200/). Picks the folder holding
 * adapter_config.json; refuses to guess between several.
 */
export function adapterFolder(files: Record<string, Uint8Array>, where: string): Record<string, Uint8Array> {
  const dirs = Object.keys(files)
    .filter((n) => n === CONFIG || n.endsWith('/' + CONFIG))
    .map((n) => n.slice(0, n.length - CONFIG.length));
  if (!dirs.length) {
    const bin = Object.keys(files).some((n) => n.endsWith('adapter_model.bin'));
    throw new AdapterFileError(
      `${where} holds no adapter_config.json, so it is not a PEFT adapter.`,
      bin
        ? 'Add the adapter_config.json that was saved with adapter_model.bin (and see below: .bin weights must be converted).'
        : 'Drop the folder that PeftModel.save_pretrained wrote, a zip of it, or its two files adapter_config.json and adapter_model.safetensors together.',
    );
  }
  if (dirs.length > 1) {
    throw new AdapterFileError(
      `${where} holds ${dirs.length} adapters (${dirs.map((d) => d || '(top level)').slice(0, 4).join(', ')}).`,
      'Import one adapter folder at a time.',
    );
  }
  const dir = dirs[0];
  const out: Record<string, Uint8Array> = {};
  for (const [n, b] of Object.entries(files)) if (n.startsWith(dir) && !n.slice(dir.length).includes('/')) out[n.slice(dir.length)] = b;
  return out;
}

export interface AdapterSummary extends AdapterInfo {
  /** the WebLoRA method name it maps to */
  method: string;
  baseModel: string;
  /** trained scalars in adapter_model.safetensors (VeRA's shared frozen projections not counted) */
  trainableParams: number;
}

const PEFT_METHODS: Record<string, (c: Record<string, unknown>) => string> = {
  LORA: (c) => (c.use_dora ? 'dora' : 'lora'),
  VERA: () => 'vera',
  ADALORA: () => 'adalora',
};

/** Checks that the files are a PEFT adapter WebLoRA can use, and says what it is. */
export function validateAdapter(files: Record<string, Uint8Array>, where: string): AdapterSummary {
  if (!files[WEIGHTS]) {
    const bin = files['adapter_model.bin'] !== undefined;
    throw new AdapterFileError(
      bin ? `${where}: adapter_model.bin (PyTorch pickle) cannot be read safely in a browser.` : `No ${WEIGHTS} next to adapter_config.json in ${where}.`,
      bin
        ? 'In Python, load it and save again with model.save_pretrained(path, safe_serialization=True) to get adapter_model.safetensors.'
        : `Add ${WEIGHTS} from the same folder (both files together).`,
    );
  }
  let config: Record<string, unknown>;
  try {
    const parsed = JSON.parse(strFromU8(files[CONFIG]));
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
    config = parsed;
  } catch (e) {
    throw new AdapterFileError(`${where}/${CONFIG} is not valid JSON (${(e as Error).message}).`, 'The file is damaged: copy it again from where the adapter was saved.');
  }
  if (typeof config.peft_type !== 'string') {
    throw new AdapterFileError(`${where}/${CONFIG} has no peft_type, so it is not a PEFT adapter config.`, 'Use the adapter_config.json that PEFT’s save_pretrained wrote.');
  }
  const peftType = config.peft_type.toUpperCase();
  const toMethod = PEFT_METHODS[peftType];
  if (!toMethod) {
    throw new AdapterFileError(
      `${where}: peft_type ${peftType} is not a method WebLoRA can load.`,
      'WebLoRA reads LoRA, rsLoRA, DoRA, VeRA and AdaLoRA adapters (peft_type LORA, VERA or ADALORA).',
    );
  }
  const weights = files[WEIGHTS];
  const configText = strFromU8(files[CONFIG]);
  try {
    // The engine's own readers: what imports here also loads for a try-out.
    if (peftType === 'LORA') parseLoraAdapter(configText, weights, where);
    else if (peftType === 'VERA') parseVeraAdapter(configText, weights, where);
    else parseSafetensors(weights, `${where}/${WEIGHTS}`);
    for (const f of CHECKPOINT_FILES.filter((n) => n.endsWith('.safetensors') && files[n])) parseSafetensors(files[f], `${where}/${f}`);
  } catch (e) {
    throw new AdapterFileError((e as Error).message, 'The adapter files are damaged or do not belong together: save or download them again.');
  }
  let trainable = 0;
  for (const [name, t] of parseSafetensors(weights, WEIGHTS).tensors) {
    if (/^base_model\.vera_[AB]$/.test(name)) continue; // VeRA's shared random projections are frozen
    trainable += t.shape.reduce((a, b) => a * b, 1);
  }
  return {
    ...adapterInfo(files[CONFIG])!,
    method: toMethod(config),
    baseModel: typeof config.base_model_name_or_path === 'string' ? config.base_model_name_or_path : '',
    trainableParams: trainable,
  };
}

/** The parts of weblora.json (TrainingSession.checkpoint(), format 'weblora-checkpoint' v1) the library reads. */
interface CheckpointJson {
  method: string;
  settings: RunSettings;
  step: number;
  base_model?: string;
  history?: { step: number; loss: number; lr: number }[];
  created?: string;
}

/** Reads and checks weblora.json when present: a checkpoint without its state cannot resume, so say so now. */
function checkpointJson(files: Record<string, Uint8Array>, where: string): CheckpointJson | null {
  const [json, state] = CHECKPOINT_FILES;
  if (!files[json]) return null;
  let ck: Record<string, unknown>;
  try {
    ck = JSON.parse(strFromU8(files[json]));
  } catch (e) {
    throw new AdapterFileError(`${where}/${json} is not valid JSON (${(e as Error).message}).`, 'Import the adapter without weblora.json, or copy the checkpoint folder again.');
  }
  if (ck?.format !== 'weblora-checkpoint' || ck.version !== 1 || !ck.settings || typeof ck.method !== 'string' || typeof ck.step !== 'number') {
    throw new AdapterFileError(`${where}/${json} is not a version-1 WebLoRA checkpoint file.`, 'Import the adapter without weblora.json, or use the folder exactly as WebLoRA wrote it.');
  }
  if (!files[state]) {
    throw new AdapterFileError(`${where} has ${json} but not ${state}, so training could not resume from it.`, `Add ${state} from the same checkpoint folder, or import the adapter without ${json}.`);
  }
  return ck as unknown as CheckpointJson;
}

/**
 * A library record from imported files. A zip WebLoRA made (weblora-run.json, training_log.jsonl) comes back
 * with its settings, curve and statistics; a checkpoint folder (weblora.json, e.g. from the CLI's
 * --checkpoint-dir) with its settings and history, resumable; any other PEFT adapter with what its config says.
 */
export function recordFromFiles(dropped: Record<string, Uint8Array>, where: string, opts: { name?: string; now?: number } = {}): LibraryRecord {
  const files = adapterFolder(dropped, where);
  const summary = validateAdapter(files, where);
  const ck = checkpointJson(files, where);
  let info: LibraryEntry | null = null;
  if (files[RUN_INFO]) {
    try {
      info = normalizeEntry({ ...JSON.parse(strFromU8(files[RUN_INFO])), history: [] });
    } catch {
      info = null; // unreadable run info: still a valid PEFT adapter
    }
  }
  const logged = files['training_log.jsonl'] ? parseTrainingLog(strFromU8(files['training_log.jsonl'])) : [];
  const history: HistoryPoint[] = logged.length ? logged : (ck?.history ?? []).map((h) => ({ step: h.step, loss: h.loss, lr: h.lr }));
  const log = files['training_log.txt'] ? strFromU8(files['training_log.txt']).split('\n').filter(Boolean) : undefined;
  const kept: Record<string, Uint8Array> = { [CONFIG]: files[CONFIG], [WEIGHTS]: files[WEIGHTS] };
  if (ck) for (const f of CHECKPOINT_FILES) kept[f] = files[f];
  const stats: RunStats = info?.stats ?? { tokensPerSec: null, peakMemoryBytes: null, trainableParams: null };
  const created = ck?.created ? Date.parse(ck.created) : NaN;
  const input: NewRecordInput = {
    name: info?.name ?? opts.name ?? `${methodTitle(summary.method, null, summary)} ${ck ? 'checkpoint' : 'adapter'} · ${summary.baseModel.split('/').pop() || 'unknown model'}`,
    kind: ck ? 'checkpoint' : 'adapter',
    method: info?.method ?? ck?.method ?? summary.method,
    baseModel: summary.baseModel || info?.baseModel || ck?.base_model || '',
    settings: info?.settings ?? ck?.settings ?? null,
    history,
    stats: { ...stats, trainableParams: stats.trainableParams ?? summary.trainableParams },
    files: kept,
    steps: info?.steps ?? ck?.step ?? (history.length ? history[history.length - 1].step : 0),
    totalSteps: info?.totalSteps ?? ck?.settings.steps,
    dataSize: info?.dataSize ?? null,
    dataName: info?.dataName ?? null,
    log,
    source: info ? info.source : 'imported',
    createdAt: info?.createdAt ?? (Number.isFinite(created) ? created : undefined),
  };
  return makeRecord(input, opts.now);
}

/** A file the user dropped or picked, with its path inside what was dropped ("my-adapter/adapter_config.json"). */
export interface DroppedFile {
  path: string;
  file: File;
}

/** From an <input type=file> list: a folder pick gives each file a webkitRelativePath. */
export function droppedFromList(list: FileList | File[]): DroppedFile[] {
  return Array.from(list, (file) => ({ path: (file as File & { webkitRelativePath?: string }).webkitRelativePath || file.name, file }));
}

/**
 * What the user dropped or picked: one zip, the two adapter files, or a whole folder. Returns name → bytes, a
 * name for messages (where) and, for a zip or a folder, a name for the entry. Only the adapter's own files are read into memory when a big folder is dropped.
 */
export async function readDropped(list: DroppedFile[]): Promise<{ files: Record<string, Uint8Array>; where: string; name?: string }> {
  if (!list.length) throw new AdapterFileError('Nothing was dropped.', 'Drop a zip, an adapter folder, or adapter_config.json with adapter_model.safetensors.');
  if (list.length === 1 && /\.zip$/i.test(list[0].path)) {
    const { file } = list[0];
    const bytes = new Uint8Array(await file.arrayBuffer());
    if (!isZip(bytes)) throw new AdapterFileError(`${file.name} is not a zip file.`, 'Drop the zip as downloaded, or the adapter folder itself.');
    return { files: unzipFiles(bytes, file.name), where: file.name, name: file.name.replace(/\.zip$/i, '') };
  }
  const wanted = new Set([CONFIG, WEIGHTS, RUN_INFO, 'training_log.jsonl', 'training_log.txt', 'adapter_model.bin', ...CHECKPOINT_FILES]);
  const files: Record<string, Uint8Array> = {};
  for (const { path, file } of list) {
    // adapter_model.bin is only looked at by name (to say it must be converted): never read
    const base = path.split('/').pop()!;
    if (!wanted.has(base)) continue;
    files[path] = base === 'adapter_model.bin' ? new Uint8Array(0) : new Uint8Array(await file.arrayBuffer());
  }
  const roots = new Set(list.map(({ path }) => (path.includes('/') ? path.slice(0, path.indexOf('/')) : '')));
  const root = roots.size === 1 ? [...roots][0] : '';
  return { files, where: root ? `the folder ${root}` : 'the dropped files', ...(root ? { name: root } : {}) };
}
