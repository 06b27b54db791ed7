// What the library asks of the engine: resume a checkpoint, try an adapter out. Both need the run's base model
// loaded first: the built-in ones and Hub repos are loaded here (a Hub repo from the browser's cache when it was
// downloaded before); a folder from disk must be dropped again by the person.
import { call } from './engine';
import { useApp } from './store';
import { useModel } from './state/model';
import { useData } from './state/data';
import { DEFAULT_SETTINGS, trainRequest, useSettings, type Settings } from './state/settings';
import { useTrain } from './state/train';
import { useTryout } from './state/tryout';
import type { LibraryRecord } from './library/record';
import type { MethodName } from './worker/types';

const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/;

export async function ensureBaseModel(id: string): Promise<void> {
  const m = useModel.getState();
  if (m.info?.id === id) return;
  let ok: boolean;
  if (id === 'weblora-demo' || id === 'weblora-demo-tiny') ok = await m.load({ kind: id === 'weblora-demo' ? 'demo' : 'demo-tiny' }, `${id} (built in)`);
  else if (HUB_ID.test(id) && !id.includes('--')) ok = await m.load({ kind: 'hub', repo: id }, `${id} from the Hub`);
  else throw new Error(`This adapter belongs to the base model “${id}”. Load that model on the Model step (drop its folder again), then try again.`);
  if (!ok) throw new Error(`Loading the base model “${id}” failed: ${useModel.getState().error ?? 'unknown error'}`);
}

/** Continues a checkpoint's training, on its settings, to its planned length (or further by “Steps” if it was done). */
export async function resumeRecord(rec: LibraryRecord): Promise<void> {
  if (!rec.settings) throw new Error('This entry has no training settings, so it cannot be resumed.');
  await ensureBaseModel(rec.baseModel);
  const data = useData.getState().info;
  if (!data?.train) throw new Error('Choose the dataset to continue on (Data step) first, then resume.');
  const s = useSettings.getState();
  const saved = rec.settings as Partial<Settings> & { steps: number; method: string };
  const settings: Settings = { ...DEFAULT_SETTINGS, ...pick(s), ...saved, method: saved.method as MethodName, useEpochs: false, targets: saved.targets ?? null };
  if (rec.steps >= saved.steps) settings.steps = rec.steps + (s.useEpochs ? DEFAULT_SETTINGS.steps : s.steps);
  const model = useModel.getState().info!;
  const req = trainRequest(settings, model, data.train, data.samplePrompts, s.methods);
  useApp.getState().setTab('train');
  await useTrain.getState().start(req, { modelId: model.id, dataset: data.name }, rec.files, rec.id);
}

/** Loads the record's adapter onto its base model for the try-out chat on the Library step. */
export async function tryOutRecord(rec: LibraryRecord): Promise<void> {
  await ensureBaseModel(rec.baseModel);
  const { describe } = await call((api) => api.loadAdapter(rec.files, rec.name));
  useTryout.getState().open(rec.name, describe);
}

function pick(s: Settings): Partial<Settings> {
  const out: Partial<Settings> = {};
  for (const k of Object.keys(DEFAULT_SETTINGS) as (keyof Settings)[]) (out as Record<string, unknown>)[k] = s[k];
  return out;
}
