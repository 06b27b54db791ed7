// One click to sensible settings: a quick look, or a run meant to give a good adapter.
import { PRESETS, useSettings, type PresetName } from '../state/settings';
import { useModel } from '../state/model';

export function Presets() {
  const apply = useSettings((s) => s.applyPreset);
  const model = useModel((s) => s.info);
  return (
    <section className="card presets" aria-label="Presets">
      <div className="preset-row">
        <span className="preset-label">Presets</span>
        {(Object.keys(PRESETS) as PresetName[]).map((p) => (
          <button key={p} className="secondary" onClick={() => apply(p, model)} data-testid={`preset-${p}`} title={PRESETS[p].what}>
            {PRESETS[p].title}
          </button>
        ))}
      </div>
      <p className="note">Quick look: {PRESETS.quick.what}. Quality: {PRESETS.quality.what}.</p>
    </section>
  );
}
