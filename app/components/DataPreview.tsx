// The first examples as the model will see them: the masked prompt greyed, the trained part in ink, token counts.
import type { DatasetInfo } from '../worker/types';

export function DataPreview({ info }: { info: DatasetInfo }) {
  return (
    <section className="card preview" aria-labelledby="preview-h" data-testid="data-preview">
      <h2 id="preview-h">First examples</h2>
      <p className="note">
        <span className="masked legend">greyed</span>: prompt tokens, masked from the loss ·{' '}
        <span className="trained legend">ink</span>: trained tokens
      </p>
      <ol className="previewrows">
        {info.preview.map((r) => (
          <li key={r.line}>
            <div className="rowmeta">
              line {r.line} · {r.tokens} tokens{r.maskedTokens ? ` (${r.maskedTokens} masked)` : ''}
              {r.truncated && <span className="pill warn">cut at the sequence length</span>}
            </div>
            <pre className="example">
              <span className="masked">{r.masked}</span>
              <span className="trained">{r.trained}</span>
            </pre>
          </li>
        ))}
      </ol>
    </section>
  );
}
