// The GPU check: which adapter the engine worker got, and what it can do; or why there is none.
import { useApp } from '../store';
import type { GpuReport } from '../engine';
import { NoWebGpu } from './NoWebGpu';
import { formatBytes } from '../format';

const LIMIT_LABELS: [key: string, label: string, bytes: boolean][] = [
  ['maxBufferSize', 'Largest buffer', true],
  ['maxStorageBufferBindingSize', 'Largest storage binding', true],
  ['maxComputeWorkgroupStorageSize', 'Workgroup shared memory', true],
  ['maxComputeInvocationsPerWorkgroup', 'Invocations per workgroup', false],
  ['maxStorageBuffersPerShaderStage', 'Storage buffers per shader', false],
  ['maxComputeWorkgroupsPerDimension', 'Workgroups per dimension', false],
];

/** Features the engine uses when present, and why they matter. */
const KEY_FEATURES: [name: string, why: string][] = [
  ['shader-f16', '16-bit math in shaders'],
  ['subgroups', 'fast reductions across a subgroup'],
  ['timestamp-query', 'per-kernel GPU timings'],
];

export function adapterLine(r: GpuReport): string {
  const { vendor, architecture, description } = r.info;
  const name = [vendor, architecture].filter(Boolean).join(' ') || 'unnamed adapter';
  return `WebGPU adapter: ${name}${description ? ` — ${description}` : ''}`;
}

export function GpuPanel() {
  const gpu = useApp((s) => s.gpu);
  const checkGpu = useApp((s) => s.checkGpu);

  return (
    <section className="card gpu" id="gpu" aria-live="polite">
      <h2>Your GPU</h2>
      {gpu.status === 'checking' && (
        <p className="status checking" data-testid="gpu-checking">
          <span className="spinner" aria-hidden /> Looking for a WebGPU adapter…
        </p>
      )}

      {gpu.status === 'unsupported' && <NoWebGpu insecureContext={gpu.insecureContext} />}

      {gpu.status === 'error' && (
        <div className="status bad" data-testid="gpu-error">
          <p>
            <strong>WebGPU is present, but no GPU could be used.</strong>
          </p>
          <p className="mono">{gpu.message}</p>
          <p>
            The GPU or its driver may be blocklisted. In Chrome or Edge, <code>chrome://gpu</code> shows why; updating
            the graphics driver usually helps.
          </p>
          <button onClick={() => void checkGpu()}>Try again</button>
        </div>
      )}

      {(gpu.status === 'ready' || gpu.status === 'lost') && <AdapterReport report={gpu.report} />}

      {gpu.status === 'lost' && (
        <div className="status bad" data-testid="gpu-lost">
          <p>
            <strong>The GPU device was lost</strong> ({gpu.message}).
          </p>
          <button onClick={() => void checkGpu()}>Reconnect</button>
        </div>
      )}
    </section>
  );
}

function AdapterReport({ report }: { report: GpuReport }) {
  const { info } = report;
  const cpu = info.cpuFallback || report.isFallbackAdapter;
  return (
    <>
      <p className={`status ${cpu ? 'warn' : 'ok'}`}>
        <span className="dot" aria-hidden />
        <span data-testid="adapter-line">{adapterLine(report)}</span>
      </p>
      {cpu && (
        <p className="note">
          This adapter runs on the CPU (a software fallback). Training works and gives the same results, but it is
          very slow: fine for a first look, not for real models.
        </p>
      )}

      <table className="limits">
        <tbody>
          <tr>
            <th scope="row">Vendor</th>
            <td>{info.vendor || '—'}</td>
          </tr>
          <tr>
            <th scope="row">Architecture</th>
            <td>{info.architecture || '—'}</td>
          </tr>
          {info.description && (
            <tr>
              <th scope="row">Description</th>
              <td>{info.description}</td>
            </tr>
          )}
          {LIMIT_LABELS.filter(([key]) => info.limits[key] !== undefined).map(([key, label, bytes]) => (
            <tr key={key}>
              <th scope="row" title={key}>
                {label}
              </th>
              <td className="num">{bytes ? formatBytes(info.limits[key]) : info.limits[key].toLocaleString('en-US')}</td>
            </tr>
          ))}
        </tbody>
      </table>

      <h3>Features</h3>
      <ul className="features">
        {KEY_FEATURES.map(([name, why]) => {
          const has = report.adapterFeatures.includes(name);
          return (
            <li key={name} className={has ? 'has' : 'lacks'} title={why}>
              <span aria-hidden>{has ? '✓' : '–'}</span> {name}
              <span className="why">{why}</span>
            </li>
          );
        })}
      </ul>
      <details className="all-features">
        <summary>All {report.adapterFeatures.length} adapter features</summary>
        <p className="mono small">{report.adapterFeatures.join(', ') || 'none'}</p>
      </details>
    </>
  );
}
