// The chosen method's own settings, with the papers' / PEFT's defaults.
import { methodOptionsOf, useSettings } from '../state/settings';
import { NumberField } from './NumberField';

export function MethodOptions() {
  const s = useSettings();
  const spec = s.methods.find((m) => m.name === s.method);
  if (!spec || !Object.keys(spec.options).length) return null;
  const values = methodOptionsOf(s, spec);
  return (
    <section className="card" aria-labelledby="mopts-h" data-testid="method-options">
      <h2 id="mopts-h">{spec.title} settings</h2>
      <div className="formgrid">
        {Object.entries(spec.options).map(([flag, o]) =>
          o.kind === 'bool' ? (
            <label key={flag} className="check" title={o.help}>
              <input type="checkbox" checked={values[flag] as boolean} onChange={(e) => s.setMethodOption(flag, e.target.checked)} />
              {flag} <span className="note">({o.help})</span>
            </label>
          ) : (
            <NumberField
              key={flag}
              label={flag}
              help={`${o.help} (default ${o.default})`}
              value={values[flag] as number}
              integer={o.kind === 'int'}
              min={o.min ?? o.above}
              max={o.max}
              onChange={(v) => s.setMethodOption(flag, v)}
              testId={`opt-${flag}`}
              showHelp
            />
          ),
        )}
      </div>
    </section>
  );
}
