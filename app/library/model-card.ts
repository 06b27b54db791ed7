// The README.md model card of a downloaded adapter (Hugging Face model card: YAML front matter the Hub reads,
// then what was trained, how, and how to load it) and its loss-curve picture.
// The text is pure (unit-tested in Node); the PNG needs OffscreenCanvas and is simply absent where there is none.
import { methodTitle, type HistoryPoint, type LibraryEntry } from './record';
import { formatLoss } from './format';

/** A Hub repo id ("gpt2", "Qwen/Qwen2.5-0.5B"); local paths are not, and must not go into base_model. */
export function isHubId(s: string): boolean {
  return /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/.test(s) && !s.includes('..');
}

/** YAML scalar: plain when safe, else a double-quoted string (JSON's escapes are YAML's). */
function yaml(s: string): string {
  return /^[A-Za-z0-9][\w./-]*$/.test(s) ? s : JSON.stringify(s);
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function formatNumber(x: number | null | undefined, digits = 4): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  if (Number.isInteger(x)) return x.toLocaleString('en-US');
  return Math.abs(x) < 1e-3 ? x.toExponential(2) : x.toFixed(digits);
}

/** Tags for the Hub: how PEFT's own cards tag adapters, plus the method. */
function tags(e: LibraryEntry): string[] {
  const t = new Set<string>();
  if (isHubId(e.baseModel)) t.add(`base_model:adapter:${e.baseModel}`);
  t.add(e.method === 'vera' ? 'vera' : 'lora');
  if (e.method !== 'lora' && e.method !== 'vera') t.add(e.method);
  if (e.settings?.rslora || e.adapter?.rslora) t.add('rslora');
  t.add('peft');
  t.add('weblora');
  return [...t];
}

/** Rows of the hyperparameter table, from whatever the record knows. */
export function hyperparameterRows(e: LibraryEntry): [string, string][] {
  const s = e.settings;
  const rows: [string, string][] = [['Method', methodTitle(e.method, s, e.adapter)]];
  if (s) {
    if (s.r !== undefined) rows.push(['Rank r', String(s.r)]);
    if (s.alpha !== undefined) rows.push(['Alpha', String(s.alpha)]);
    if (s.rslora) rows.push(['Scaling', 'rsLoRA (α/√r)']);
    if (s.targets?.length) rows.push(['Target modules', s.targets.join(', ')]);
    for (const [k, v] of Object.entries(s.options ?? {})) rows.push([`--${k}`, String(v)]);
    rows.push(['Steps', e.steps === e.totalSteps ? String(e.steps) : `${e.steps} of ${e.totalSteps}`]);
    rows.push(['Batch × sequence', `${s.batch} × ${s.seq}${s.gradAccum && s.gradAccum > 1 ? ` (× ${s.gradAccum} accumulated)` : ''}`]);
    const sched = [`${s.lr}`, s.schedule ? `${s.schedule} schedule` : null, s.warmup ? `${s.warmup} warmup step${s.warmup === 1 ? '' : 's'}` : null];
    rows.push(['Learning rate', sched.filter(Boolean).join(', ')]);
    if (s.weightDecay !== undefined) rows.push(['Weight decay', String(s.weightDecay)]);
    if (s.maxGradNorm !== undefined) rows.push(['Max grad norm', String(s.maxGradNorm)]);
    if (s.beta1 !== undefined || s.beta2 !== undefined) rows.push(['AdamW betas', `${s.beta1 ?? 0.9}, ${s.beta2 ?? 0.999}`]);
    if (s.seed !== undefined) rows.push(['Seed', String(s.seed)]);
  } else {
    // an imported adapter: only its config is known
    const a = e.adapter;
    if (a?.r !== null && a?.r !== undefined) rows.push(['Rank r', String(a.r)]);
    if (a?.alpha !== null && a?.alpha !== undefined) rows.push(['Alpha', String(a.alpha)]);
    if (a?.targets.length) rows.push(['Target modules', a.targets.join(', ')]);
    if (e.steps) rows.push(['Steps', String(e.steps)]);
  }
  if (e.dataSize || e.dataName) {
    const n = e.dataSize ? `${e.dataSize.toLocaleString('en-US')} examples` : '';
    rows.push(['Training data', [n, e.dataName ? `(${e.dataName})` : ''].filter(Boolean).join(' ')]);
  }
  if (e.stats.trainableParams !== null) rows.push(['Trainable parameters', formatNumber(e.stats.trainableParams)]);
  if (e.stats.tokensPerSec !== null) rows.push(['Throughput', `${formatNumber(Math.round(e.stats.tokensPerSec))} tokens/s`]);
  if (e.finalTrainLoss !== null) rows.push(['Final training loss', formatLoss(e.finalTrainLoss)]);
  if (e.finalValLoss !== null) rows.push(['Final validation loss', formatLoss(e.finalValLoss)]);
  return rows;
}

export interface ModelCardOptions {
  /** loss_curve.png is in the download */
  hasLossCurve: boolean;
  /** the zip holds weblora.json / weblora-state.safetensors (a resumable checkpoint) */
  isCheckpoint: boolean;
}

export function modelCardText(e: LibraryEntry, opts: ModelCardOptions): string {
  const hub = isHubId(e.baseModel);
  const front = ['---', 'library_name: peft'];
  if (hub) front.push(`base_model: ${yaml(e.baseModel)}`);
  front.push('tags:', ...tags(e).map((t) => `- ${yaml(t)}`), 'pipeline_tag: text-generation', '---');

  const title = methodTitle(e.method, e.settings, e.adapter);
  const baseLink = hub ? `[${e.baseModel}](https://huggingface.co/${e.baseModel})` : e.baseModel ? `\`${e.baseModel}\`` : 'its base model';
  const when = new Date(e.createdAt).toISOString().slice(0, 10);
  const origin =
    e.source === 'imported'
      ? `A ${title} adapter for ${baseLink}, imported into WebLoRA on ${when}.`
      : `A ${title} adapter for ${baseLink}, fine-tuned with WebLoRA in a web browser on ${when} (WebGPU, nothing uploaded).`;

  const lines = [...front, '', `# ${e.name}`, '', origin, '', '## Training', '', '| | |', '| --- | --- |'];
  for (const [k, v] of hyperparameterRows(e)) lines.push(`| ${cell(k)} | ${cell(v)} |`);
  if (opts.hasLossCurve) lines.push('', '![Training loss per step](loss_curve.png)');
  if (e.history.length) lines.push('', 'Every step’s loss and learning rate are in `training_log.jsonl` (one JSON object per line).');

  const path = 'path/to/this/folder';
  lines.push(
    '',
    '## Use it',
    '',
    '```python',
    'from peft import PeftModel',
    'from transformers import AutoModelForCausalLM, AutoTokenizer',
    '',
    `base = AutoModelForCausalLM.from_pretrained(${JSON.stringify(e.baseModel || 'BASE_MODEL')})`,
    `tokenizer = AutoTokenizer.from_pretrained(${JSON.stringify(e.baseModel || 'BASE_MODEL')})`,
    `model = PeftModel.from_pretrained(base, ${JSON.stringify(path)})`,
    '```',
    '',
    '## Files',
    '',
    '- `adapter_config.json`, `adapter_model.safetensors`: the PEFT adapter.',
  );
  if (e.history.length) lines.push('- `training_log.jsonl`: the loss curve as numbers.');
  if (e.log?.length) lines.push('- `training_log.txt`: the run’s log.');
  lines.push('- `weblora-run.json`: the settings and statistics WebLoRA shows for this run (read back on import).');
  if (opts.isCheckpoint) lines.push('- `weblora.json`, `weblora-state.safetensors`: optimizer and method state, to resume training in WebLoRA.');
  lines.push('');
  return lines.join('\n');
}

// ---------- loss curve picture ----------

/** Round tick values covering [lo, hi]: 1, 2 or 5 × 10^k apart, about `count` of them. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** Exponential moving average with bias correction (TensorBoard's smoothing), so early points are not pulled to 0. */
export function smooth(ys: number[], weight: number): number[] {
  let acc = 0;
  return ys.map((y, i) => {
    acc = acc * weight + (1 - weight) * y;
    return acc / (1 - weight ** (i + 1));
  });
}

/**
 * The loss curve as a PNG (training loss per step, validation loss as dots), or null when the history is empty
 * or this context has no OffscreenCanvas (Node, old Safari).
 */
export async function lossCurvePng(history: HistoryPoint[], title = 'Training loss', width = 800, height = 420): Promise<Uint8Array | null> {
  const pts = history.filter((h) => Number.isFinite(h.loss));
  if (!pts.length || typeof OffscreenCanvas === 'undefined') return null;
  const canvas = new OffscreenCanvas(width, height);
  const g = canvas.getContext('2d');
  if (!g) return null;
  const vals = pts.map((p) => p.loss).concat(pts.flatMap((p) => (p.valLoss !== undefined && Number.isFinite(p.valLoss) ? [p.valLoss] : [])));
  let lo = Math.min(...vals), hi = Math.max(...vals);
  if (hi - lo < 1e-6) (lo -= 0.5), (hi += 0.5);
  const pad = (hi - lo) * 0.05;
  (lo -= pad), (hi += pad);
  const x0 = pts[0].step, x1 = Math.max(pts[pts.length - 1].step, x0 + 1);
  const L = 64, R = 20, T = 44, B = 48;
  const X = (s: number) => L + ((s - x0) / (x1 - x0)) * (width - L - R);
  const Y = (v: number) => T + (1 - (v - lo) / (hi - lo)) * (height - T - B);

  g.fillStyle = '#ffffff';
  g.fillRect(0, 0, width, height);
  g.font = '13px sans-serif';
  g.fillStyle = '#14171f';
  g.font = '600 15px sans-serif';
  g.fillText(title, L, 26);
  g.font = '12px sans-serif';
  g.strokeStyle = '#e2e6ed';
  g.lineWidth = 1;
  g.fillStyle = '#5b6475';
  g.textAlign = 'right';
  g.textBaseline = 'middle';
  for (const v of niceTicks(lo, hi)) {
    g.beginPath(), g.moveTo(L, Y(v)), g.lineTo(width - R, Y(v)), g.stroke();
    g.fillText(String(v), L - 8, Y(v));
  }
  g.strokeStyle = '#9aa3b2';
  g.beginPath(), g.moveTo(L, T), g.lineTo(L, height - B), g.lineTo(width - R, height - B), g.stroke();
  g.textAlign = 'center';
  g.textBaseline = 'top';
  for (const s of niceTicks(x0, x1, 6)) g.fillText(String(s), X(s), height - B + 8);
  g.fillText('step', (L + width - R) / 2, height - 20);

  const line = (ys: number[], color: string, w: number) => {
    g.strokeStyle = color;
    g.lineWidth = w;
    g.beginPath();
    pts.forEach((p, i) => (i ? g.lineTo(X(p.step), Y(ys[i])) : g.moveTo(X(p.step), Y(ys[i]))));
    g.stroke();
  };
  const raw = pts.map((p) => p.loss);
  // Per-step loss is noisy: with many steps, draw it faint and a smoothed curve on top.
  if (pts.length > 30) {
    line(raw, '#b9c8f3', 1);
    line(smooth(raw, 0.9), '#1d4ed8', 2);
  } else {
    line(raw, '#1d4ed8', 2);
  }
  g.fillStyle = '#b45309';
  for (const p of pts) if (p.valLoss !== undefined && Number.isFinite(p.valLoss)) g.beginPath(), g.arc(X(p.step), Y(p.valLoss), 4, 0, 2 * Math.PI), g.fill();

  g.textAlign = 'left';
  g.textBaseline = 'middle';
  g.fillStyle = '#1d4ed8';
  g.fillRect(width - R - 210, 20, 14, 3);
  g.fillStyle = '#14171f';
  g.fillText('train', width - R - 190, 22);
  if (pts.some((p) => p.valLoss !== undefined)) {
    g.fillStyle = '#b45309';
    g.beginPath(), g.arc(width - R - 115, 22, 4, 0, 2 * Math.PI), g.fill();
    g.fillStyle = '#14171f';
    g.fillText('validation', width - R - 105, 22);
  }
  const blob = await canvas.convertToBlob({ type: 'image/png' });
  return new Uint8Array(await blob.arrayBuffer());
}
