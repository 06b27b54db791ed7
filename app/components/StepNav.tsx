// The page's steps as a tab list: Model → Data → Method → Train, then Library, Compare and the GPU report. Arrow keys
// move between tabs (WAI-ARIA tabs pattern); each tab says where that step stands.
import { useRef, type KeyboardEvent } from 'react';
import { useApp, type Tab } from '../store';
import { useModel } from '../state/model';
import { useData } from '../state/data';
import { useSettings } from '../state/settings';
import { useTrain } from '../state/train';

const TABS: { id: Tab; label: string; num?: number }[] = [
  { id: 'model', label: 'Model', num: 1 },
  { id: 'data', label: 'Data', num: 2 },
  { id: 'method', label: 'Method', num: 3 },
  { id: 'train', label: 'Train', num: 4 },
  { id: 'library', label: 'Library' },
  { id: 'compare', label: 'Compare' },
  { id: 'gpu', label: 'Your GPU' },
];

export function StepNav() {
  const tab = useApp((s) => s.tab);
  const setTab = useApp((s) => s.setTab);
  const model = useModel((s) => (s.status === 'ready' ? s.info?.id : s.status === 'loading' ? 'loading…' : s.status === 'error' ? 'error' : ''));
  const data = useData((s) => (s.info ? `${s.info.examples} examples` : s.status === 'loading' ? 'reading…' : ''));
  const method = useSettings((s) => s.methods.find((m) => m.name === s.method)?.title ?? s.method);
  const train = useTrain((s) => (s.state === 'idle' ? '' : s.state === 'running' && s.progress ? `step ${s.progress.step}/${s.progress.steps}` : s.state));
  const status: Partial<Record<Tab, string>> = { model, data, method, train };
  const refs = useRef<(HTMLButtonElement | null)[]>([]);

  const onKey = (e: KeyboardEvent, i: number) => {
    const d = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
    if (!d && e.key !== 'Home' && e.key !== 'End') return;
    e.preventDefault();
    const j = e.key === 'Home' ? 0 : e.key === 'End' ? TABS.length - 1 : (i + d + TABS.length) % TABS.length;
    setTab(TABS[j].id);
    refs.current[j]?.focus();
  };

  return (
    <nav className="stepnav" role="tablist" aria-label="Steps">
      {TABS.map((t, i) => (
        <button
          key={t.id}
          ref={(el) => {
            refs.current[i] = el;
          }}
          id={`tab-${t.id}`}
          role="tab"
          aria-selected={tab === t.id}
          aria-controls={`panel-${t.id}`}
          tabIndex={tab === t.id ? 0 : -1}
          className={`step ${tab === t.id ? 'current' : ''} ${t.num ? '' : 'aux'}`}
          onClick={() => setTab(t.id)}
          onKeyDown={(e) => onKey(e, i)}
          data-testid={`tab-${t.id}`}
        >
          {t.num && <span className="step-num">{t.num}</span>}
          <span className="step-label">{t.label}</span>
          {status[t.id] && <span className="step-status">{status[t.id]}</span>}
        </button>
      ))}
    </nav>
  );
}
