// Step 3: the method and its settings. Every method with one sentence on what it changes and how many parameters it
// would train on this model; presets; the common settings; the chosen method's own options.
import { useSettings } from '../state/settings';
import { useModel } from '../state/model';
import { useTrain, isActive } from '../state/train';
import { formatCount } from '../format';
import type { MethodName } from '../worker/types';
import { CommonSettings } from './CommonSettings';
import { MethodOptions } from './MethodOptions';
import { Presets } from './Presets';

/** All eight, in the order; a method this build lacks is shown, greyed. */
const ORDER: [MethodName, string][] = [
  ['lora', 'LoRA'], ['loraplus', 'LoRA+'], ['vera', 'VeRA'], ['lorafa', 'LoRA-FA'],
  ['loradrop', 'LoRA-drop'], ['adalora', 'AdaLoRA'], ['dora', 'DoRA'], ['deltalora', 'Delta-LoRA'],
];

export function MethodPanel() {
  const { methods, method, setMethod, plan } = useSettings();
  const model = useModel((s) => s.info);
  const locked = isActive(useTrain((s) => s.state));
  return (
    <div className="grid-method">
      <section className="card" aria-labelledby="methods-h">
        <h2 id="methods-h">Method</h2>
        <div className="methodlist" role="radiogroup" aria-labelledby="methods-h">
          {ORDER.map(([name, fallback]) => {
            const spec = methods.find((m) => m.name === name);
            const count = plan?.counts[name];
            return (
              <label key={name} className={`methodopt ${method === name ? 'chosen' : ''} ${spec ? '' : 'missing'}`} data-testid={`method-${name}`}>
                <input type="radio" name="method" value={name} checked={method === name} disabled={!spec || locked} onChange={() => setMethod(name)} />
                <span className="m-title">{spec?.title ?? fallback}</span>
                <span className="m-count" title="trainable parameters on this model with these settings">
                  {spec ? (count !== undefined && model ? `${formatCount(count)} params` : '') : 'not in this build'}
                </span>
                <span className="m-summary">{spec?.summary ?? 'Not available in this build yet.'}</span>
              </label>
            );
          })}
        </div>
      </section>
      <div className="stack">
        <Presets />
        <MethodOptions />
        <CommonSettings />
      </div>
    </div>
  );
}
