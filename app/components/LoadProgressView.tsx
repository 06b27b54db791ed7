// How far a model load has got: bytes, speed and the file in flight for a download; bytes read for a folder.
import { formatBytes } from '../format';
import type { LoadProgress } from '../worker/types';
import { ProgressBar } from './ProgressBar';

export function LoadProgressView({ label, progress }: { label: string; progress: (LoadProgress & { startedAt: number }) | null }) {
  if (!progress) return <ProgressBar value={0} total={null} label={`Loading ${label}…`} testId="model-progress" />;
  const { phase, loaded, total, bytesPerSec, file, filesDone, filesTotal, cached } = progress;
  const of = total ? ` of ${formatBytes(total)}` : '';
  let text: string;
  if (phase === 'download') {
    const speed = bytesPerSec ? ` · ${formatBytes(bytesPerSec)}/s` : '';
    const eta = bytesPerSec && total ? ` · ${Math.max(0, Math.round((total - loaded) / bytesPerSec))} s left` : '';
    text = `Downloading ${formatBytes(loaded)}${of}${speed}${eta} · file ${Math.min((filesDone ?? 0) + 1, filesTotal ?? 1)}/${filesTotal ?? '?'}: ${file}${cached ? ' (from cache)' : ''}`;
  } else if (phase === 'read') text = `Reading ${file ?? ''}: ${formatBytes(loaded)}${of}`;
  else text = 'Preparing the tokenizer and weights…';
  return <ProgressBar value={loaded} total={phase === 'parse' ? null : total} label={text} testId="model-progress" />;
}
