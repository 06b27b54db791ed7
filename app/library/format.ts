// Number and date formatting shared by the library and compare views (pure).

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  // decimal units: what the OS file manager shows for the downloaded zip
  while (n >= 1000 && i < units.length - 1) (n /= 1000), i++;
  return `${i === 0 || n >= 100 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}

/** 1234567 → "1.23M": parameter counts span 10³–10⁹. */
export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  if (n < 1e4) return n.toLocaleString('en-US');
  const [d, s] = n >= 1e9 ? [1e9, 'B'] : n >= 1e6 ? [1e6, 'M'] : [1e3, 'K'];
  return `${(n / d).toPrecision(3)}${s}`;
}

export function formatRate(n: number | null | undefined): string {
  return n === null || n === undefined || !Number.isFinite(n) ? '—' : `${Math.round(n).toLocaleString('en-US')}`;
}

/** Losses always with 4 decimals, so 3 reads as 3.0000 beside 2.9871. */
export function formatLoss(x: number | null | undefined): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(4);
}

/** "14:02" today, "Mar 3, 14:02" this year, "2024-03-03" before. */
export function formatDate(ms: number, now = Date.now()): string {
  const d = new Date(ms);
  const n = new Date(now);
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  if (d.toDateString() === n.toDateString()) return `today ${time}`;
  if (d.getFullYear() === n.getFullYear()) return `${d.toLocaleDateString([], { month: 'short', day: 'numeric' })}, ${time}`;
  return d.toISOString().slice(0, 10);
}
