// A Hub repo id → downloaded file by file into the browser's Cache Storage (a reload reads it from there).
import { useState } from 'react';
import { useModel } from '../state/model';

export function HubForm({ disabled }: { disabled: boolean }) {
  const [repo, setRepo] = useState('HuggingFaceTB/SmolLM2-135M');
  const [token, setToken] = useState('');
  const [endpoint, setEndpoint] = useState('');
  const load = useModel((s) => s.load);
  const submit = () => {
    const r = repo.trim();
    if (r) void load({ kind: 'hub', repo: r, token: token.trim() || undefined, endpoint: endpoint.trim() || undefined }, `${r} from the Hub`);
  };
  return (
    <form
      className="hubform"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      <label className="field grow">
        <span>Repo id</span>
        <input value={repo} onChange={(e) => setRepo(e.target.value)} placeholder="owner/name" spellCheck={false} data-testid="hub-repo" />
      </label>
      <button type="submit" disabled={disabled || !repo.trim()} data-testid="hub-download">
        Download
      </button>
      <details className="hub-more">
        <summary>Gated model or another endpoint</summary>
        <label className="field">
          <span>Access token (kept in this tab only)</span>
          <input type="password" value={token} onChange={(e) => setToken(e.target.value)} placeholder="hf_…" autoComplete="off" />
        </label>
        <label className="field">
          <span>Endpoint</span>
          <input value={endpoint} onChange={(e) => setEndpoint(e.target.value)} placeholder="https://huggingface.co" spellCheck={false} data-testid="hub-endpoint" />
        </label>
      </details>
      <p className="note">Files are kept in the browser’s cache storage: loading the same repo again reads them from disk.</p>
    </form>
  );
}
