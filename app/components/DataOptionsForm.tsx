// How the dataset is read: format (detected, or forced), prompt masking, and the validation split.
import { useData } from '../state/data';
import type { DataOptions } from '../worker/types';

const FORMATS: [DataOptions['format'], string][] = [
  ['auto', 'Detect per record'],
  ['text', 'Plain text (train on every token)'],
  ['prompt-completion', 'Prompt / completion'],
  ['alpaca', 'Alpaca (instruction, input, output)'],
  ['chat', 'Chat messages'],
];

export function DataOptionsForm() {
  const { options, setOptions, status } = useData();
  const busy = status === 'loading';
  return (
    <div className="formgrid data-options">
      <label className="field">
        <span>Format</span>
        <select value={options.format} disabled={busy} data-testid="data-format" onChange={(e) => void setOptions({ format: e.target.value as DataOptions['format'] })}>
          {FORMATS.map(([v, t]) => (
            <option key={v} value={v}>
              {t}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>Validation split</span>
        <select value={options.valPercent} disabled={busy} data-testid="data-val" onChange={(e) => void setOptions({ valPercent: Number(e.target.value) })}>
          {[0, 1, 2, 5, 10, 15, 20, 30].map((p) => (
            <option key={p} value={p}>
              {p === 0 ? 'none' : `${p}%`}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>Evaluate at most</span>
        <select value={options.valMax} disabled={busy} onChange={(e) => void setOptions({ valMax: Number(e.target.value) })}>
          {[8, 16, 32, 64, 128, 256, 1024, 100000].map((p) => (
            <option key={p} value={p}>
              {p >= 100000 ? 'all' : p} examples
            </option>
          ))}
        </select>
      </label>
      <label className="check">
        <input type="checkbox" checked={options.maskPrompt} disabled={busy} onChange={(e) => void setOptions({ maskPrompt: e.target.checked })} />
        Train on the answer only (mask the prompt from the loss)
      </label>
    </div>
  );
}
