// Chat-style try-out of a library adapter: a prompt, the adapter's answer, and the base model's beside it.
import { useState } from 'react';
import { useTryout } from '../state/tryout';
import { ErrorBox } from './ErrorBox';

export function TryOut() {
  const { name, describe, busy, error, exchanges, ask, close } = useTryout();
  const [prompt, setPrompt] = useState('');
  const [tokens, setTokens] = useState(40);
  const [compare, setCompare] = useState(true);
  if (!name) return null;
  return (
    <section className="card tryout" aria-labelledby="tryout-h" data-testid="tryout">
      <div className="chart-head">
        <h2 id="tryout-h">Try out: {name}</h2>
        <button className="secondary small-btn" onClick={close}>
          Close
        </button>
      </div>
      <p className="note">{describe} · greedy decoding</p>
      {exchanges.map((x, i) => (
        <article key={i} className="sample">
          <pre className="prompt">{x.prompt}</pre>
          <div className="answers">
            <div>
              <div className="who tuned">With the adapter</div>
              <p className="answer" data-testid="tryout-answer">
                {x.tuned || '∅'}
              </p>
            </div>
            {x.base !== null && (
              <div>
                <div className="who">Base model</div>
                <p className="answer">{x.base || '∅'}</p>
              </div>
            )}
          </div>
        </article>
      ))}
      <form
        className="tryform"
        onSubmit={(e) => {
          e.preventDefault();
          if (prompt) void ask(prompt.replace(/\\n/g, '\n'), tokens, compare);
        }}
      >
        <label className="field grow">
          <span>Prompt (\n for a line break)</span>
          <textarea rows={2} value={prompt} onChange={(e) => setPrompt(e.target.value)} data-testid="tryout-prompt" />
        </label>
        <label className="field">
          <span>New tokens</span>
          <input type="number" min={1} max={512} value={tokens} onChange={(e) => setTokens(Math.max(1, Number(e.target.value) || 1))} data-testid="tryout-tokens" />
        </label>
        <label className="check">
          <input type="checkbox" checked={compare} onChange={(e) => setCompare(e.target.checked)} /> also the base model
        </label>
        <button type="submit" disabled={busy || !prompt} data-testid="tryout-send">
          {busy ? 'Generating…' : 'Generate'}
        </button>
      </form>
      {error && <ErrorBox error={error} />}
    </section>
  );
}
