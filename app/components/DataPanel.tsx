// Step 2: the dataset. A demo set in one click or a file of one's own; the format detected (overridable), the split,
// a preview with token counts and prompt masking, and every bad row with its line number.
import { useData } from '../state/data';
import { useModel } from '../state/model';
import { DropZone } from './DropZone';
import { DataOptionsForm } from './DataOptionsForm';
import { DataPreview } from './DataPreview';
import { BadRows } from './BadRows';
import { ErrorBox } from './ErrorBox';
import { formatBytes, formatCount } from '../format';

const DEMOS = [
  { name: 'demo-define', title: 'Definitions', what: '649 prompt → completion pairs (Devil’s Dictionary style)' },
  { name: 'demo-style', title: 'Aphorisms', what: '400 one-line texts (fortunes)' },
];

const FORMAT_NAMES = { text: 'plain text', 'prompt-completion': 'prompt / completion', alpaca: 'Alpaca instruction', chat: 'chat messages', mixed: 'mixed' };

export function DataPanel() {
  const { status, info, error, loadDemo, loadFile } = useData();
  const modelReady = useModel((s) => s.status === 'ready' || !!s.info);
  const busy = status === 'loading' || !modelReady;

  return (
    <div className="grid2 data-grid">
      <section className="card" aria-labelledby="data-h">
        <h2 id="data-h">Training data</h2>
        {!modelReady && <p className="note">Load a model first: the dataset is tokenized with its tokenizer.</p>}
        <h3>Demo datasets</h3>
        <div className="choices" role="group" aria-label="Demo datasets">
          {DEMOS.map((d) => (
            <button
              key={d.name}
              className={`choice ${info?.name === `${d.name}.jsonl` ? 'chosen' : ''}`}
              aria-pressed={info?.name === `${d.name}.jsonl`}
              disabled={busy}
              data-testid={`data-${d.name}`}
              onClick={() => void loadDemo(d.name)}
            >
              <span className="choice-title">{d.title}</span>
              <span className="choice-what">{d.what}</span>
            </button>
          ))}
        </div>
        <h3>Your file</h3>
        <DropZone
          testId="data-drop"
          accept=".jsonl,.json,.csv,.tsv,.txt,.md,.ndjson"
          disabled={busy}
          title="Drop a JSONL, JSON, CSV or TXT file"
          hint={
            <>
              Records with <code>text</code>, <code>prompt</code>+<code>completion</code>, <code>instruction</code>+<code>output</code> or{' '}
              <code>messages</code>.
            </>
          }
          onFiles={(files) => void loadFile(files[0].file)}
        />
        <DataOptionsForm />
        {status === 'loading' && (
          <p className="status checking">
            <span className="spinner" aria-hidden /> Reading and tokenizing…
          </p>
        )}
        {error && <ErrorBox error={error} testId="data-error" />}
        {info && info.examples === 0 && (
          <p className="status bad" data-testid="data-summary">
            {info.name}: no usable examples. The rows left out say why; fix the file, or pick the format its records have.
          </p>
        )}
        {info && info.examples > 0 && (
          <div className="datasummary" data-testid="data-summary">
            <p>
              <strong>{info.name}</strong> ({formatBytes(info.bytes)}): {info.examples} usable examples, read as{' '}
              <strong>{FORMAT_NAMES[info.detected]}</strong>
              {info.detected === 'mixed' && ` (${Object.entries(info.counts).map(([k, v]) => `${v} ${FORMAT_NAMES[k as keyof typeof FORMAT_NAMES]}`).join(', ')})`}.
            </p>
            <p>
              <span data-testid="data-split">
                {info.train} for training, {info.val} for validation
              </span>
              {info.valEvaluated < info.val && ` (the first ${info.valEvaluated} are evaluated)`}. Tokens per example: mean{' '}
              {info.tokens.mean.toFixed(0)}, max {info.tokens.max}; {formatCount(info.tokens.trainedTokens)} trained tokens
              {info.tokens.truncated > 0 && `; ${info.tokens.truncated} cut at the sequence length`}.
            </p>
          </div>
        )}
      </section>
      <div className="stack">
        {info && info.examples > 0 && <DataPreview info={info} />}
        {info && <BadRows rows={info.errors} file={info.name} />}
      </div>
    </div>
  );
}
