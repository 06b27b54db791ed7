// Step 4: train. Start / pause / resume / stop, the run's numbers, the live loss chart and the sample generations.
import { useTrain } from '../state/train';
import { RunControls } from './RunControls';
import { RunStats } from './RunStats';
import { LossChart } from './LossChart';
import { Samples } from './Samples';
import { ErrorBox } from './ErrorBox';

export function TrainPanel() {
  const error = useTrain((s) => s.error);
  return (
    <div className="trainpanel">
      <section className="card runbar" aria-label="Training run">
        <RunControls />
        <RunStats />
        {error && <ErrorBox error={error} testId="train-error" onDismiss={() => useTrain.setState({ error: null })} />}
      </section>
      <div className="grid-train">
        <LossChart />
        <Samples />
      </div>
    </div>
  );
}
