// The README's per-method table from the two JSONL files bench/run-h100.sh writes (bench/train.ts: side 'weblora',
// bench/peft_bench.py: side 'peft'), one row per method of bench/methods.json, in its order:
//   method | trains | trainable params | peak memory (WebLoRA, PEFT fp32) | tokens/s (WebLoRA, PEFT fp32, ratio,
//   PEFT bf16-autocast, ratio)
// Methods PEFT lacks show "—"; a failed or missing run says so in its cell rather than dropping the row.
//   node bench/method-table.mjs OUT/train-methods.jsonl OUT/peft-methods.jsonl [--model smollm2-135m]
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const flag = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args.splice(i, 2)[1] : dflt;
};
const model = flag('model', 'smollm2-135m');
const [webloraFile, peftFile] = args;
if (!webloraFile || !peftFile) {
  console.error('usage: node bench/method-table.mjs WEBLORA.jsonl PEFT.jsonl [--model smollm2-135m]');
  process.exit(2);
}
const bench = JSON.parse(readFileSync(new URL('./methods.json', import.meta.url), 'utf8'));
const read = (f) =>
  readFileSync(f, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).filter((r) => r.model === model);
const weblora = read(webloraFile).filter((r) => r.side === 'weblora');
const peft = read(peftFile).filter((r) => r.side === 'peft');
// the last line wins if a method ran twice
const pick = (rows, method, mode) => rows.filter((r) => r.method === method && (!mode || r.mode === mode)).at(-1);

const int = (n) => Math.round(n).toLocaleString('en-US');
const gib = (b) => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : `${(b / 2 ** 20).toFixed(1)} MiB`);
const ok = (r) => r && Number.isFinite(r.tokens_per_s);
const failed = (r) => (r ? (r.skipped ? `skipped (${r.skipped})` : 'failed') : 'not run');
const ratio = (a, b) => (ok(a) && ok(b) ? `${(a.tokens_per_s / b.tokens_per_s).toFixed(2)}×` : '—');
const hasBf16 = peft.some((r) => r.mode === 'bf16-autocast');

const head = ['method', 'trains', 'trainable params', 'WebLoRA peak memory', 'PEFT peak (fp32)', 'WebLoRA tokens/s', 'PEFT fp32 tokens/s', 'ratio'];
if (hasBf16) head.push('PEFT bf16-autocast tokens/s', 'ratio');
const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
const notes = [];
for (const [name, m] of Object.entries(bench.methods)) {
  const w = pick(weblora, name);
  const p32 = m.peft ? pick(peft, name, 'fp32') : undefined;
  const p16 = m.peft ? pick(peft, name, 'bf16-autocast') : undefined;
  const none = m.peft ? failed : () => '— (not in PEFT)';
  let params = ok(w) ? int(w.trainable_params) : '—';
  if (ok(w) && ok(p32) && p32.trainable_params !== w.trainable_params) params += ` (PEFT ${int(p32.trainable_params)})`;
  const row = [
    `${m.title} (\`${name}\`)`,
    m.trains,
    params,
    ok(w) ? gib(w.peak_gpu_bytes) : failed(w),
    ok(p32) && p32.peak_gpu_bytes != null ? gib(p32.peak_gpu_bytes) : none(p32),
    ok(w) ? `**${int(w.tokens_per_s)}** (${w.step_ms.toFixed(1)} ms/step)` : failed(w),
    ok(p32) ? `${int(p32.tokens_per_s)} (${p32.step_ms.toFixed(1)} ms)` : none(p32),
    m.peft ? ratio(w, p32) : '—',
  ];
  if (hasBf16) row.push(ok(p16) ? `${int(p16.tokens_per_s)} (${p16.step_ms.toFixed(1)} ms)` : none(p16), m.peft ? ratio(w, p16) : '—');
  lines.push(`| ${row.join(' | ')} |`);
  if (ok(w) && w.setup_ms > 1000) notes.push(`${m.title}: ${(w.setup_ms / 1000).toFixed(1)} s of setup before the timed steps (${w.describe}).`);
  if (ok(w) && !Number.isFinite(w.loss)) notes.push(`${m.title}: WebLoRA's loss is not finite (${w.loss}).`);
}
const dev = weblora.find(ok)?.device, pdev = peft.find(ok);
console.log(lines.join('\n'));
console.log(
  `\n${model}, batch ${weblora.find(ok)?.batch ?? '?'} × ${weblora.find(ok)?.seq ?? '?'}, targets ${bench.targets.join(', ')}; ` +
    `WebLoRA on ${dev ?? '?'}${pdev ? `, PyTorch ${pdev.torch} + PEFT ${pdev.peft} on ${pdev.device}` : ''}.`,
);
for (const n of notes) console.log(`- ${n}`);
