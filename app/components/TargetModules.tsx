// Which linear modules get an adapter: the model's own module names, as checkboxes.
import type { ModelInfo } from '../worker/types';

export function TargetModules({ model, targets, onChange }: { model: ModelInfo | null; targets: string[]; onChange(t: string[] | null): void }) {
  if (!model) return <p className="note">Target modules appear once a model is loaded.</p>;
  const perName = (n: string) => model.linears.filter((l) => l.shortName === n);
  const toggle = (n: string, on: boolean) => {
    const next = on ? [...new Set([...targets, n])] : targets.filter((t) => t !== n);
    onChange(model.moduleNames.filter((m) => next.includes(m)));
  };
  return (
    <fieldset className="targets" data-testid="targets">
      <legend>
        Target modules <span className="note">({targets.length ? `${model.linears.filter((l) => targets.includes(l.shortName)).length} layers` : 'none'})</span>
      </legend>
      {model.moduleNames.map((n) => {
        const l = perName(n)[0];
        return (
          <label key={n} className="check target" title={`${perName(n).length} layers, e.g. ${l.name} [${l.outDim} × ${l.inDim}]`}>
            <input type="checkbox" checked={targets.includes(n)} onChange={(e) => toggle(n, e.target.checked)} data-testid={`target-${n}`} />
            <span className="mono">{n}</span>
            <span className="dims">
              {l.inDim}→{l.outDim}
            </span>
          </label>
        );
      })}
      <button type="button" className="link" onClick={() => onChange(null)}>
        PEFT default ({model.defaultTargets.join(', ')})
      </button>
      <button type="button" className="link" onClick={() => onChange([...model.moduleNames])}>
        all
      </button>
    </fieldset>
  );
}
