// The loaded model at a glance, and the GPU memory the chosen settings will take, checked against this GPU's limits.
import { useModel } from '../state/model';
import { useSettings } from '../state/settings';
import { formatBytes, formatCount } from '../format';
import { MemoryEstimateView } from './MemoryEstimateView';

export function ModelCard() {
  const info = useModel((s) => s.info);
  const status = useModel((s) => s.status);
  const { batch, seq, plan } = useSettings();
  if (!info)
    return (
      <section className="card">
        <h2>Model</h2>
        <p className="note">{status === 'loading' ? 'Loading…' : 'No model loaded yet.'}</p>
      </section>
    );
  const rows: [string, string][] = [
    ['Architecture', `${info.hfArchitecture} (${info.layers} layers, hidden ${info.hidden}, ${info.heads} heads${info.kvHeads !== info.heads ? `, ${info.kvHeads} KV heads` : ''})`],
    ['Parameters', formatCount(info.params)],
    ['Weights', `${info.dtype} · ${formatBytes(info.weightBytes)}`],
    ['Context length', `${info.contextLength.toLocaleString('en-US')} tokens`],
    ['Vocabulary', info.vocabSize.toLocaleString('en-US')],
    ['Linear modules', info.moduleNames.join(', ')],
    ['Chat template', info.hasChatTemplate ? 'yes' : 'none (chat datasets need one)'],
  ];
  return (
    <section className="card modelcard" data-testid="model-card" aria-labelledby="model-card-h">
      <h2 id="model-card-h">{info.label}</h2>
      <table className="kv">
        <tbody>
          {rows.map(([k, v]) => (
            <tr key={k}>
              <th scope="row">{k}</th>
              <td data-testid={`model-${k.toLowerCase().replace(/\s+/g, '-')}`}>{v}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>GPU memory for batch {batch} × {seq} tokens</h3>
      {plan ? <MemoryEstimateView estimate={plan.estimate} /> : <p className="note">Estimating…</p>}
    </section>
  );
}
