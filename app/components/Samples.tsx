// The same prompts answered by the base model and by the model with the adapter, refreshed every N steps.
import { useTrain } from '../state/train';

export function Samples() {
  const samples = useTrain((s) => s.samples);
  const request = useTrain((s) => s.request);
  const every = request?.sampleEvery ?? 0;
  return (
    <section className="card samples" aria-labelledby="samples-h" data-testid="samples">
      <h2 id="samples-h">Samples{samples ? ` at step ${samples.step}` : ''}</h2>
      {!samples && (
        <p className="note">
          {request && !every ? 'Sample generations are off (Method step: “Samples every”).' : `Greedy answers to the first validation prompts appear here${every ? ` every ${every} steps` : ''}, beside the base model’s.`}
        </p>
      )}
      {samples?.samples.map((s, i) => (
        <article key={i} className="sample" data-testid="sample">
          <pre className="prompt">{s.prompt}</pre>
          <div className="answers">
            <div>
              <div className="who">Base model</div>
              <p className="answer base">{s.base || '∅'}</p>
            </div>
            <div>
              <div className="who tuned">With the adapter</div>
              <p className="answer tuned" data-testid="sample-tuned">
                {s.tuned || '∅'}
              </p>
            </div>
          </div>
        </article>
      ))}
    </section>
  );
}
