// The settings every method shares: the adapter's shape, where it goes, and the optimisation.
import { effectiveTargets, stepsFor, useSettings } from '../state/settings';
import { useModel } from '../state/model';
import { useData } from '../state/data';
import { useTrain, isActive } from '../state/train';
import { NumberField } from './NumberField';
import { TargetModules } from './TargetModules';

const NO_PROMPTS: string[] = [];

export function CommonSettings() {
  const s = useSettings();
  const model = useModel((m) => m.info);
  const trainExamples = useData((d) => d.info?.train ?? 0);
  const dataPrompts = useData((d) => d.info?.samplePrompts ?? NO_PROMPTS);
  const locked = isActive(useTrain((t) => t.state));
  const spec = s.methods.find((m) => m.name === s.method);
  const rejects = new Set(spec?.rejects ?? []);
  const ownRank = !!spec && 'init-r' in spec.options; // AdaLoRA
  const noDropout = rejects.has('dropout'); // DoRA, Delta-LoRA, VeRA, AdaLoRA
  const steps = stepsFor(s, trainExamples);
  const epochsDone = trainExamples ? (steps * s.batch * s.gradAccum) / trainExamples : 0;

  return (
    <section className="card" aria-labelledby="common-h">
      <h2 id="common-h">Settings</h2>
      <fieldset disabled={locked} className="plain">
        <div className="formgrid four">
          <NumberField
            label="Rank r"
            value={s.r}
            integer
            min={1}
            max={4096}
            onChange={(r) => s.set({ r })}
            testId="set-r"
            disabled={ownRank}
            help={ownRank ? `${spec?.title} takes its rank from init-r (its own settings)` : 'rank of the update; more = more capacity and parameters'}
          />
          <NumberField label="Alpha α" value={s.alpha} min={0} onChange={(alpha) => s.set({ alpha })} disabled={rejects.has('alpha')} testId="set-alpha" help={rejects.has('alpha') ? `${spec?.title} has no α scaling` : 'the update is scaled by α/r (α/√r with rsLoRA)'} />
          <NumberField
            label="Dropout"
            value={noDropout ? 0 : s.dropout}
            min={0}
            max={0.99}
            step={0.05}
            onChange={(dropout) => s.set({ dropout })}
            disabled={noDropout}
            testId="set-dropout"
            showHelp={noDropout}
            help={noDropout ? `${spec?.title} trains without dropout here` : "PEFT's lora_dropout: while training, the adapter's input loses this share of its values (0: off)"}
          />
          <label className="check">
            <input type="checkbox" checked={s.rslora} disabled={rejects.has('rslora')} onChange={(e) => s.set({ rslora: e.target.checked })} /> rsLoRA (α/√r)
          </label>
        </div>
        <TargetModules model={model} targets={effectiveTargets(s, model)} onChange={(targets) => s.set({ targets })} />
        <div className="formgrid four">
          <NumberField label="Learning rate" value={s.lr} min={0} onChange={(lr) => s.set({ lr })} testId="set-lr" help="AdamW's peak learning rate" />
          <label className="field">
            <span>Schedule</span>
            <select value={s.schedule} onChange={(e) => s.set({ schedule: e.target.value as typeof s.schedule })} data-testid="set-schedule">
              <option value="constant">constant</option>
              <option value="linear">linear decay</option>
              <option value="cosine">cosine</option>
            </select>
          </label>
          <NumberField label="Warmup steps" value={s.warmup} integer min={0} onChange={(warmup) => s.set({ warmup })} testId="set-warmup" />
          <NumberField label="Seed" value={s.seed} integer min={0} onChange={(seed) => s.set({ seed })} testId="set-seed" help="adapter init and data order" />
          <label className="field">
            <span>Length in</span>
            <select value={s.useEpochs ? 'epochs' : 'steps'} onChange={(e) => s.set({ useEpochs: e.target.value === 'epochs' })} data-testid="set-length-unit">
              <option value="steps">steps</option>
              <option value="epochs">epochs</option>
            </select>
          </label>
          {s.useEpochs ? (
            <NumberField label="Epochs" value={s.epochs} min={0.01} onChange={(epochs) => s.set({ epochs })} testId="set-epochs" help={trainExamples ? `${steps} optimizer steps` : 'steps are counted once a dataset is loaded'} showHelp />
          ) : (
            <NumberField label="Steps" value={s.steps} integer min={1} onChange={(v) => s.set({ steps: v })} testId="set-steps" help={trainExamples ? `${epochsDone.toFixed(2)} epochs` : undefined} showHelp />
          )}
          <NumberField label="Batch" value={s.batch} integer min={1} max={512} onChange={(batch) => s.set({ batch })} testId="set-batch" />
          <NumberField label="Grad. accumulation" value={s.gradAccum} integer min={1} max={512} onChange={(gradAccum) => s.set({ gradAccum })} testId="set-accum" help={`effective batch ${s.batch * s.gradAccum}`} />
          <NumberField label="Sequence length" value={s.seq} integer min={8} max={model?.contextLength} onChange={(seq) => s.set({ seq })} testId="set-seq" help="tokens per example; longer ones are cut" />
          <NumberField label="Weight decay" value={s.weightDecay} min={0} onChange={(weightDecay) => s.set({ weightDecay })} />
          <NumberField label="Max grad. norm" value={s.maxGradNorm} min={0} onChange={(maxGradNorm) => s.set({ maxGradNorm })} help="0 turns clipping off" />
        </div>
        <div className="formgrid four">
          <NumberField label="Validation every" value={s.evalEvery} integer min={0} onChange={(evalEvery) => s.set({ evalEvery })} testId="set-eval-every" help="steps; 0: only at the end" />
          <NumberField label="Samples every" value={s.sampleEvery} integer min={0} onChange={(sampleEvery) => s.set({ sampleEvery })} testId="set-sample-every" help="steps; 0: no sample generations" />
          <NumberField label="Sample length" value={s.sampleTokens} integer min={1} max={512} onChange={(sampleTokens) => s.set({ sampleTokens })} testId="set-sample-tokens" help="new tokens per sample" />
        </div>
        <label className="field">
          <span>Sample prompts (one per line, \n for a line break; empty: the first validation prompts)</span>
          <textarea
            rows={2}
            value={s.samplePromptsText}
            placeholder={dataPrompts.map((p) => p.replace(/\n/g, '\\n')).join('\n')}
            onChange={(e) => s.set({ samplePromptsText: e.target.value })}
            data-testid="set-sample-prompts"
          />
        </label>
      </fieldset>
    </section>
  );
}
