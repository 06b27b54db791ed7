// The GPU in the top bar: which adapter trains, or what is wrong with it. Clicking opens the full report.
import { useApp } from '../store';

export function GpuChip() {
  const gpu = useApp((s) => s.gpu);
  const setTab = useApp((s) => s.setTab);
  let cls = 'checking', text = 'checking WebGPU…';
  if (gpu.status === 'ready') {
    const { vendor, architecture, cpuFallback } = gpu.report.info;
    cls = cpuFallback || gpu.report.isFallbackAdapter ? 'warn' : 'ok';
    text = `${[vendor, architecture].filter(Boolean).join(' ') || 'WebGPU'}${cls === 'warn' ? ' (CPU fallback: slow)' : ''}`;
  } else if (gpu.status === 'unsupported') [cls, text] = ['bad', 'no WebGPU'];
  else if (gpu.status === 'error') [cls, text] = ['bad', 'no usable GPU'];
  else if (gpu.status === 'lost') [cls, text] = ['bad', 'GPU lost'];
  return (
    <button className={`gpuchip ${cls}`} onClick={() => setTab('gpu')} title="Your GPU" data-testid="gpu-chip">
      <span className="dot" aria-hidden /> {text}
    </button>
  );
}
