import { lazy, Suspense, useEffect } from 'react';
import { useApp, type Tab } from './store';
import { rememberedModel, useModel } from './state/model';
import { useData } from './state/data';
import { useSettings } from './state/settings';
import { GpuPanel } from './components/GpuPanel';
import { About } from './components/About';
import { NoWebGpu } from './components/NoWebGpu';
import { StepNav } from './components/StepNav';
import { ModelPanel } from './components/ModelPanel';
import { DataPanel } from './components/DataPanel';
import { MethodPanel } from './components/MethodPanel';

import { GpuChip } from './components/GpuChip';
// the chart library (recharts) and the library panels load when first opened: the first page is lighter
const TrainPanel = lazy(() => import('./components/TrainPanel').then((m) => ({ default: m.TrainPanel })));
const LibraryTabs = lazy(() => import('./components/LibraryTabs').then((m) => ({ default: m.LibraryTabs })));
import { autoSaveRuns } from './run-files';

export function App() {
  const checkGpu = useApp((s) => s.checkGpu);
  const gpu = useApp((s) => s.gpu);
  const tab = useApp((s) => s.tab);
  useEffect(() => {
    void checkGpu();
  }, [checkGpu]);
  useEffect(() => autoSaveRuns(), []);
  useEngineWiring(gpu.status === 'ready');

  return (
    <div className="page">
      <header className="topbar">
        <div className="brand">
          <img src="/favicon.svg" alt="" width={28} height={28} />
          <span className="brand-name">WebLoRA</span>
          <span className="tagline">fine-tune LLMs on your own GPU · nothing leaves this machine</span>
        </div>
        <GpuChip />
      </header>

      {gpu.status === 'unsupported' ? (
        <main className="single">
          <section className="card">
            <NoWebGpu insecureContext={gpu.insecureContext} />
          </section>
          <About />
        </main>
      ) : (
        <>
          <StepNav />
          <main className="panel" id={`panel-${tab}`} role="tabpanel" aria-labelledby={`tab-${tab}`}>
            <Suspense fallback={<p className="status checking"><span className="spinner" aria-hidden /> Loading…</p>}>
              <Panel tab={tab} />
            </Suspense>
          </main>
        </>
      )}
    </div>
  );
}

function Panel({ tab }: { tab: Tab }) {
  switch (tab) {
    case 'model':
      return <ModelPanel />;
    case 'data':
      return <DataPanel />;
    case 'method':
      return <MethodPanel />;
    case 'train':
      return <TrainPanel />;
    case 'library':
    case 'compare':
      return <LibraryTabs tab={tab} />;
    case 'gpu':
      return (
        <div className="columns">
          <GpuPanel />
          <About />
        </div>
      );
  }
}

/**
 * First visit: the built-in demo model. Afterwards keeps the dependants in step: a new model re-tokenizes the
 * dataset and refreshes the parameter counts / memory estimate; a new sequence length re-tokenizes too.
 */
function useEngineWiring(ready: boolean) {
  const modelStatus = useModel((s) => s.status);
  const version = useModel((s) => s.version);
  const info = useModel((s) => s.info);
  const seq = useSettings((s) => s.seq);
  useEffect(() => {
    if (!ready) return;
    void useSettings.getState().loadMethods();
    if (modelStatus === 'idle') {
      const { src, label } = rememberedModel();
      void useModel.getState().load(src, label);
    }
  }, [ready, modelStatus]);
  useEffect(() => {
    if (version === 0) return;
    const data = useData.getState();
    void (data.info ? data.refresh() : data.restore());
  }, [version]);
  useEffect(() => {
    if (useData.getState().options.seq === seq) return;
    const t = setTimeout(() => void useData.getState().setOptions({ seq }), 300);
    return () => clearTimeout(t);
  }, [seq]);
  // parameter counts and the memory estimate follow every setting
  useEffect(() => {
    let t: ReturnType<typeof setTimeout> | undefined;
    const refresh = () => {
      clearTimeout(t);
      t = setTimeout(() => void useSettings.getState().refreshPlan(useModel.getState().info), 120);
    };
    useSettings.setState({ plan: null }); // the old model's numbers must not stand for the new one
    refresh();
    const unsub = useSettings.subscribe((s, prev) => {
      if (s.plan !== prev.plan || s.planError !== prev.planError) return;
      refresh();
    });
    return () => {
      unsub();
      clearTimeout(t);
    };
  }, [info]);
}
