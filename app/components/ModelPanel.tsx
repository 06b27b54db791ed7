// Step 1: the base model. Built in (selected on first visit), a folder from disk, or a Hub repo; then its card.
import { useModel } from '../state/model';
import { useTrain, isActive } from '../state/train';
import { DropZone } from './DropZone';
import { HubForm } from './HubForm';
import { LoadProgressView } from './LoadProgressView';
import { ModelCard } from './ModelCard';
import { ErrorBox } from './ErrorBox';
import { call } from '../engine';

const BUILT_IN = [
  { kind: 'demo' as const, title: 'WebLoRA demo', what: '5.5 M parameters, Llama architecture, context 256: trains in seconds', label: 'WebLoRA demo (built in)' },
  { kind: 'demo-tiny' as const, title: 'WebLoRA demo-tiny', what: '355 K parameters: for slow GPUs and tests', label: 'WebLoRA demo-tiny (built in)' },
];

export function ModelPanel() {
  const { status, info, error, loadingLabel, progress, load } = useModel();
  const training = isActive(useTrain((s) => s.state));
  const busy = status === 'loading' || training;

  return (
    <div className="grid2">
      <section className="card" aria-labelledby="model-src-h">
        <h2 id="model-src-h">Choose a base model</h2>
        <h3>Built in</h3>
        <div className="choices" role="group" aria-label="Built-in models">
          {BUILT_IN.map((b) => (
            <button
              key={b.kind}
              className={`choice ${info?.source === b.kind ? 'chosen' : ''}`}
              aria-pressed={info?.source === b.kind}
              disabled={busy}
              data-testid={`model-${b.kind}`}
              onClick={() => void load({ kind: b.kind }, b.label)}
            >
              <span className="choice-title">{b.title}</span>
              <span className="choice-what">{b.what}</span>
            </button>
          ))}
        </div>

        <h3>From your disk</h3>
        <DropZone
          testId="model-drop"
          folder
          multiple
          disabled={busy}
          title="Drop a Hugging Face model folder here"
          hint={
            <>
              With <code>config.json</code>, <code>tokenizer.json</code> and <code>model.safetensors</code> (or its shards).
              Llama, Qwen2 and GPT-2 families. Nothing is uploaded.
            </>
          }
          onFiles={(files) => void load({ kind: 'files', files }, `${files[0].path.split('/')[0]} (from your disk)`)}
        />

        <h3>From the Hugging Face Hub</h3>
        <HubForm disabled={busy} />

        {status === 'loading' && (
          <div className="loadrow">
            <LoadProgressView label={loadingLabel} progress={progress} />
            {progress?.phase === 'download' && (
              <button className="secondary small-btn" onClick={() => void call((api) => api.cancelLoad())} data-testid="model-cancel">
                Cancel
              </button>
            )}
          </div>
        )}
        {error && <ErrorBox error={error} onDismiss={() => useModel.setState({ error: null })} testId="model-error" />}
      </section>

      <ModelCard />
    </div>
  );
}
