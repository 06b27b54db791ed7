// The adapter library and the compare view, for the main app to mount.
//
// Mounting:
//   <LibraryPanel onResume={resume} onTryOut={tryOut} engineBusy={training} onEntries={setEntries} />
//   <ComparePanel records={entries} live={runningRun ? [runningRun] : []} />
//
// What the main app provides (the worker calls are its own):
//   - Saving runs: when a run finishes, `library().save({ kind: 'adapter', method, baseModel, settings, history,
//     stats: { tokensPerSec, peakMemoryBytes, trainableParams }, files: await session.exportAdapter(),
//     dataSize, dataName, log })`; for a checkpoint, `kind: 'checkpoint'` and `files: await session.checkpoint()`
//     (which must hold adapter_config.json, adapter_model.safetensors, weblora.json, weblora-state.safetensors).
//     Pass `id` (and `createdAt`) of an earlier checkpoint to replace it rather than add one per save.
//     Bytes come from the worker through comlink (Uint8Array, transferable). The panels refresh by themselves.
//     `history` is the session's StepRecord[] ({step, loss, lr}) with `valLoss` added at the steps where the
//     held-out loss was measured. save() rejects with a LibraryError (message + hint) when storage is full;
//     nothing saved earlier is touched, so show the error and keep the run in memory for a download.
//   - onResume(record): TrainingSession.create({ ..., settings: record.settings, resume: memorySource(record.files) })
//     on the base model record.baseModel (the app must have that model loaded, or load it first).
//   - onTryOut(record): loadAdapter(ctx, memorySource(record.files), record.name) on record.baseModel, then the chat.
//   - ComparePanel `live`: a run in progress as a CompareRun ({ id, name, method, history, stats, finalTrainLoss,
//     finalValLoss, settings? }), rebuilt as steps arrive, so its curve grows over the saved ones.
export { LibraryPanel, type LibraryPanelProps } from './LibraryPanel';
export { ComparePanel, type ComparePanelProps } from './ComparePanel';
export type { CompareRun } from './compare';
export {
  library,
  openLibrary,
  idbStore,
  memoryStore,
  storageInfo,
  requestPersistence,
  LibraryError,
  type Library,
  type KeyValueStore,
  type LibraryOptions,
  type StorageInfo,
} from './storage';
export {
  makeRecord,
  methodTitle,
  type LibraryEntry,
  type LibraryRecord,
  type NewRecordInput,
  type RunSettings,
  type RunStats,
  type HistoryPoint,
  type RecordKind,
} from './record';
export { buildDownloadZip, recordFromFiles, readDropped, AdapterFileError } from './zip';
export { modelCardText, lossCurvePng } from './model-card';
export { saveBytes } from './download';
