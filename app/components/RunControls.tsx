// Start, pause, resume, stop; what the run is about to do; the adapter's files once there is something to keep.
import { useApp } from '../store';
import { useModel } from '../state/model';
import { useData } from '../state/data';
import { stepsFor, trainRequest, useSettings } from '../state/settings';
import { useTrain, isActive } from '../state/train';
import { formatCount } from '../format';
import { downloadAdapter, saveRunToLibrary } from '../run-files';

export function RunControls() {
  const model = useModel((s) => s.info);
  const modelBusy = useModel((s) => s.status === 'loading');
  const data = useData((s) => s.info);
  const dataBusy = useData((s) => s.status === 'loading');
  const settings = useSettings();
  const { state, detail, start, pause, resume, stop, started } = useTrain();
  const setTab = useApp((s) => s.setTab);
  const spec = settings.methods.find((m) => m.name === settings.method);
  const blockers: [string, 'model' | 'data' | 'method'][] = [];
  if (!model) blockers.push(['Load a model', 'model']);
  if (!data || !data.train) blockers.push([data ? 'The dataset has no usable examples' : 'Choose a dataset', 'data']);
  if (model && settings.plan?.estimate.blockers.length) blockers.push([settings.plan.estimate.blockers[0], 'method']);
  if (model && settings.plan && !settings.plan.adaptedLayers) blockers.push(['Tick at least one target module', 'method']);
  if (!spec) blockers.push(['Pick a method', 'method']);
  const active = isActive(state);
  const canStart = !blockers.length && !active && !modelBusy && !dataBusy;
  const steps = stepsFor(settings, data?.train ?? 0);

  const onStart = () => {
    if (!model || !data) return;
    const req = trainRequest(settings, model, data.train, data.samplePrompts, settings.methods);
    void start(req, { modelId: model.id, dataset: data.name });
  };

  return (
    <div className="controls">
      <div className="control-buttons">
        {state === 'paused' ? (
          <button onClick={() => void resume()} data-testid="train-resume">
            Resume
          </button>
        ) : (
          <button onClick={onStart} disabled={!canStart} data-testid="train-start">
            {state === 'finished' || state === 'stopped' || state === 'error' ? 'Train again' : 'Start training'}
          </button>
        )}
        <button className="secondary" onClick={() => void pause()} disabled={state !== 'running' && state !== 'preparing'} data-testid="train-pause">
          Pause
        </button>
        <button className="secondary danger" onClick={() => void stop()} disabled={!(active || state === 'paused') || state === 'stopping'} data-testid="train-stop">
          Stop
        </button>
        <button className="secondary" onClick={() => void downloadAdapter()} disabled={!started || active} data-testid="train-download">
          Download adapter
        </button>
        <button className="secondary" onClick={() => void saveRunToLibrary("checkpoint")} disabled={state !== 'paused'} data-testid="train-save" title="Saved automatically when a run ends">
          Save checkpoint
        </button>
      </div>
      <p className="runline" data-testid="train-state" aria-live="polite">
        <span className={`pill state-${state}`}>{state}</span>{' '}
        {state === 'idle' && spec && model && (
          <>
            {spec.title} on {model.id}: {steps} steps of {settings.batch}×{settings.seq} tokens
            {settings.gradAccum > 1 ? ` ×${settings.gradAccum}` : ''}, {formatCount(settings.plan?.counts[settings.method] ?? NaN)} trainable parameters.
          </>
        )}
        {state !== 'idle' && (started?.describe ?? '')}
        {detail && state !== 'error' ? ` · ${detail}` : ''}
      </p>
      {!active && blockers.length > 0 && (
        <ul className="blockers" data-testid="train-blockers">
          {blockers.map(([b, t]) => (
            <li key={b}>
              {b}{' '}
              <button className="link" onClick={() => setTab(t)}>
                go to {t}
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
