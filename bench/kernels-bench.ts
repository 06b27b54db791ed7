// Bandwidth of the row-wise and element-wise kernels at model sizes, and (with --check FILE) a cross-check
// against ground truth from transformers/torch written by bench/kernels-hf-check.py.
// Usage (GPU host): node scripts/build-cli.mjs bench/kernels-bench.ts; python3 bench/kernels-hf-check.py hf.json;
//                   node dist/kernels-bench.js [--check hf.json]
// Caution (H100, Dawn/Vulkan, 2026-11): once this process has allocated more than ~2 GB, EVERY kernel, on old
// buffers too, drops from ~3.0 to ~1.75 TB/s (swiglu, addInto, rmsnorm alike; CUDA on the same machine does
// not). The later sections below run in that state; a fresh process with only its own buffers shows ~3 TB/s.
import { readFileSync } from 'node:fs';
import { Gpu } from '../src/engine/gpu/runtime';
import { layernormBackward, layernormForward, rmsnormBackward, rmsnormForward } from '../src/kernels/norm';
import { rope, ropeInvFreq, ropeTable } from '../src/kernels/rope';
import { addInto, geluBackward, geluForward, swigluBackward, swigluForward } from '../src/kernels/activation';
import { embeddingForward } from '../src/kernels/embedding';
import { crossEntropy } from '../src/kernels/loss';
import { adamw, adamwHyper, adamwHyperBytes, adamwMany, gradNormSquared } from '../src/kernels/optim';

const gpu = await Gpu.create();
console.log(`device: ${gpu.info.description || gpu.info.vendor} ${gpu.info.architecture} cpuFallback=${gpu.info.cpuFallback}`);

function relL2(got: ArrayLike<number>, want: ArrayLike<number>) {
  let num = 0, den = 0;
  for (let i = 0; i < want.length; i++) {
    if (!Number.isFinite(got[i])) return Infinity;
    num += (got[i] - want[i]) ** 2;
    den += want[i] ** 2;
  }
  return Math.sqrt(num) / (den > 0 ? Math.sqrt(den) : 1);
}

const checkAt = process.argv.indexOf('--check');
if (checkAt > 0) {
  const hf = JSON.parse(readFileSync(process.argv[checkAt + 1], 'utf8'));
  console.log(`cross-check vs transformers ${hf.transformers}, torch ${hf.torch}`);
  const report = (name: string, err: number, tol: number) => console.log(`  ${err <= tol ? 'ok  ' : 'FAIL'} ${name}: relL2 ${err.toExponential(2)} (tol ${tol})`);
  for (const r of hf.rope) {
    const half = r.headDim / 2;
    const inv = ropeInvFreq(r.headDim, r.theta, r.scaling);
    report(`rope inv_freq D${r.headDim} θ${r.theta} ${r.ropeType}`, relL2(inv, r.invFreq), 1e-7);
    let exactInv = 0;
    for (let i = 0; i < half; i++) if (inv[i] === Math.fround(r.invFreq[i])) exactInv++;
    const maxSeq = Math.max(...r.positions) + 1;
    const table = ropeTable(r.headDim, maxSeq, r.theta, r.scaling);
    const cos: number[] = [], sin: number[] = [];
    for (const p of r.positions) for (let i = 0; i < half; i++) { cos.push(table[p * half + i]); sin.push(table[(maxSeq + p) * half + i]); }
    let maxAbs = 0;
    for (let i = 0; i < cos.length; i++) maxAbs = Math.max(maxAbs, Math.abs(cos[i] - r.cos[i]), Math.abs(sin[i] - r.sin[i]));
    report(`rope cos D${r.headDim} (inv_freq bit-exact ${exactInv}/${half}, max |Δ| ${maxAbs.toExponential(1)})`, relL2(cos, r.cos), 1e-6);
    report(`rope sin D${r.headDim}`, relL2(sin, r.sin), 1e-6);
  }
  const up = (a: number[] | Float32Array, label: string) => { const d = Float32Array.from(a); return gpu.buffer(d.byteLength, label, d); };
  {
    const n = hf.rmsnorm;
    const y = gpu.buffer(n.rows * n.dim * 4), rstd = gpu.buffer(n.rows * 4);
    const s = gpu.step();
    await rmsnormForward(gpu, s, { rows: n.rows, dim: n.dim, eps: n.eps }, up(n.x, 'x'), up(n.w, 'w'), y, rstd);
    s.submit();
    report('rmsnorm vs LlamaRMSNorm', relL2(await gpu.readF32(y), n.y), 1e-6);
  }
  {
    const g = hf.gelu;
    const y = gpu.buffer(g.x.length * 4);
    const s = gpu.step();
    await geluForward(gpu, s, { n: g.x.length }, up(g.x, 'x'), y);
    s.submit();
    report('gelu_new vs NewGELUActivation', relL2(await gpu.readF32(y), g.y), 1e-6);
  }
  {
    const c = hf.ce;
    const logits = up(c.logits, 'logits'), rowLoss = gpu.buffer(c.rows * 4);
    const labels = Int32Array.from(c.labels);
    const s = gpu.step();
    await crossEntropy(gpu, s, { rows: c.rows, vocab: c.vocab }, logits, gpu.buffer(labels.byteLength, 'labels', labels), up([c.scale], 'scale'), rowLoss);
    s.submit();
    const loss = (await gpu.readF32(rowLoss)).reduce((a, b) => a + b, 0);
    report('cross_entropy loss vs torch', Math.abs(loss - c.loss) / Math.abs(c.loss), 1e-6);
    report('cross_entropy grad vs torch autograd', relL2(await gpu.readF32(logits), c.dlogits), 1e-6);
  }
  {
    const a = hf.adamw;
    const params = a.init.map((p: number[], k: number) => up(p, `p${k}`));
    const ms = a.sizes.map((n: number) => gpu.buffer(n * 4)), vs = a.sizes.map((n: number) => gpu.buffer(n * 4));
    const grads = a.sizes.map((n: number) => gpu.buffer(n * 4));
    const hyper = gpu.buffer(adamwHyperBytes), normSq = gpu.buffer(4);
    let norms = 0;
    for (let t = 0; t < a.steps.length; t++) {
      a.steps[t].grads.forEach((g: number[], k: number) => gpu.upload(grads[k], Float32Array.from(g)));
      gpu.upload(hyper, adamwHyper({ ...a, step: t + 1 }));
      const s = gpu.step();
      await gradNormSquared(gpu, s, a.sizes.map((n: number, k: number) => ({ buffer: grads[k], n })), normSq);
      for (let k = 0; k < a.sizes.length; k++) await adamw(gpu, s, { n: a.sizes[k] }, params[k], grads[k], ms[k], vs[k], hyper, normSq);
      s.submit();
      norms = Math.max(norms, Math.abs(Math.sqrt((await gpu.readF32(normSq))[0]) - a.steps[t].totalNorm) / a.steps[t].totalNorm);
    }
    report('grad norm vs clip_grad_norm_ (max over steps)', norms, 1e-6);
    for (let k = 0; k < a.sizes.length; k++) {
      const p = await gpu.readF32(params[k]);
      report(`adamw param ${k} vs torch.optim.AdamW, 5 steps`, relL2(p, a.final[k]), 1e-6);
      const delta = p.map((x, i) => x - a.init[k][i]);
      report(`adamw update ${k}`, relL2(delta, a.final[k].map((x: number, i: number) => x - a.init[k][i])), 1e-5);
      report(`adamw exp_avg ${k}`, relL2(await gpu.readF32(ms[k]), a.m[k]), 1e-6);
      report(`adamw exp_avg_sq ${k}`, relL2(await gpu.readF32(vs[k]), a.v[k]), 1e-6);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Timing: `reps` dispatches recorded into one step; the best of 3 submits; bytes = ideal DRAM traffic.
async function time(name: string, bytes: number, record: (s: ReturnType<Gpu['step']>) => Promise<void>, reps = 20) {
  let s = gpu.step();
  await record(s); // compile + warm
  s.submit();
  await gpu.sync();
  let best = Infinity;
  for (let k = 0; k < 3; k++) {
    s = gpu.step();
    for (let r = 0; r < reps; r++) await record(s);
    const t0 = performance.now();
    s.submit();
    await gpu.sync();
    best = Math.min(best, (performance.now() - t0) / reps);
  }
  console.log(`${name.padEnd(52)} ${(best * 1000).toFixed(1).padStart(8)} µs  ${(bytes / best / 1e6).toFixed(0).padStart(6)} GB/s`);
}

const buf = (floats: number, value = 0.5) => {
  const b = gpu.buffer(floats * 4);
  gpu.fill(b, value);
  return b;
};

{
  const [rows, dim] = [8192, 4096];
  const x = buf(rows * dim), y = buf(rows * dim), dy = buf(rows * dim), dx = buf(rows * dim), w = buf(dim), rstd = buf(2 * rows), mean = buf(2 * rows, 0);
  const N = rows * dim * 4;
  await time(`rmsnorm fwd [${rows}, ${dim}]`, 2 * N, (s) => rmsnormForward(gpu, s, { rows, dim, eps: 1e-5 }, x, w, y, rstd));
  await time(`rmsnorm bwd [${rows}, ${dim}] (accumulate)`, 4 * N, (s) => rmsnormBackward(gpu, s, { rows, dim, accumulate: true }, dy, x, w, rstd, dx));
  await time(`layernorm fwd [${rows}, ${dim}]`, 2 * N, (s) => layernormForward(gpu, s, { rows, dim, eps: 1e-5 }, x, w, w, y, mean, rstd));
  await time(`layernorm bwd [${rows}, ${dim}]`, 3 * N, (s) => layernormBackward(gpu, s, { rows, dim }, dy, x, w, mean, rstd, dx));
  await time(`addInto n=${rows * dim}`, 3 * N, (s) => addInto(gpu, s, { n: rows * dim }, dx, dy));
  for (const [r2, d2] of [[16384, 768], [16384, 896], [16384, 2048]]) {
    await time(`layernorm fwd [${r2}, ${d2}]`, 2 * r2 * d2 * 4, (s) => layernormForward(gpu, s, { rows: r2, dim: d2, eps: 1e-5 }, x, w, w, y, mean, rstd));
    await time(`layernorm bwd [${r2}, ${d2}]`, 3 * r2 * d2 * 4, (s) => layernormBackward(gpu, s, { rows: r2, dim: d2 }, dy, x, w, mean, rstd, dx));
    await time(`rmsnorm fwd [${r2}, ${d2}]`, 2 * r2 * d2 * 4, (s) => rmsnormForward(gpu, s, { rows: r2, dim: d2, eps: 1e-5 }, x, w, y, rstd));
  }
  // rope on q [4, 2048, 32, 128]
  const table = ropeTable(128, 2048, 500000);
  const tbl = gpu.buffer(table.byteLength, 'table', table);
  await time('rope q [4, 2048, 32, 128]', 2 * 4 * 2048 * 32 * 128 * 4, (s) => rope(gpu, s, { batch: 4, seq: 2048, heads: 32, headDim: 128 }, x, tbl));
  // embedding gather, bf16 table [128256, 4096] → 8192 tokens
  const vocab = 128256;
  const table16 = gpu.buffer((vocab * dim) / 2 * 4);
  const ids = gpu.buffer(rows * 4, 'ids', Uint32Array.from({ length: rows }, (_, i) => (i * 7919) % vocab));
  await time(`embedding bf16 [${rows} tokens, ${dim}]`, rows * dim * 6, (s) => embeddingForward(gpu, s, { tokens: rows, dim, dtype: 'bf16' }, ids, table16, y));
  table16.destroy();
}
{
  const n = 8192 * 11008;
  const g = buf(n), u = buf(n), o = buf(n), dg = buf(n), du = buf(n);
  await time(`swiglu fwd n=${n}`, 3 * n * 4, (s) => swigluForward(gpu, s, { n }, g, u, o));
  await time(`swiglu bwd n=${n}`, 5 * n * 4, (s) => swigluBackward(gpu, s, { n }, o, g, u, dg, du));
  await time(`gelu fwd n=${n}`, 2 * n * 4, (s) => geluForward(gpu, s, { n }, g, o));
  await time(`gelu bwd n=${n} (accumulate)`, 4 * n * 4, (s) => geluBackward(gpu, s, { n, accumulate: true }, u, g, dg));
  for (const b of [g, u, o, dg, du]) b.destroy();
}
{
  const [rows, vocab] = [2048, 128256];
  const logits = buf(rows * vocab, 0.01);
  const labels = gpu.buffer(rows * 4, 'labels', Int32Array.from({ length: rows }, (_, i) => (i * 31) % vocab));
  const scale = gpu.buffer(4, 'scale', Float32Array.of(1 / rows));
  const rowLoss = buf(rows);
  await time(`crossEntropy [${rows}, ${vocab}] (read 2×, write 1×)`, 3 * rows * vocab * 4, (s) => crossEntropy(gpu, s, { rows, vocab }, logits, labels, scale, rowLoss), 5);
  logits.destroy();
}
{
  const n = 40_000_000;
  const p = buf(n), g = buf(n, 0.001), m = buf(n, 0), v = buf(n, 0);
  const hyper = gpu.buffer(adamwHyperBytes, 'hyper', adamwHyper({ lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 3, maxGradNorm: 1 }));
  const normSq = buf(1, 1);
  await time(`gradNormSquared 1 tensor n=${n}`, n * 4, (s) => gradNormSquared(gpu, s, [{ buffer: g, n }], normSq));
  await time(`adamw n=${n}`, 7 * n * 4, (s) => adamw(gpu, s, { n }, p, g, m, v, hyper, normSq));
  const ts = Array.from({ length: 448 }, () => ({ n: 65536, param: buf(65536), grad: buf(65536, 0.001), m: buf(65536, 0), v: buf(65536, 0) }));
  await time('gradNormSquared 448 tensors × 65536 (LoRA-like)', 448 * 65536 * 4, (s) => gradNormSquared(gpu, s, ts.map((t) => ({ buffer: t.grad, n: t.n })), normSq), 5);
  await time('adamw 448 tensors × 65536, one dispatch each', 448 * 65536 * 28, async (s) => { for (const t of ts) await adamw(gpu, s, { n: t.n }, t.param, t.grad, t.m, t.v, hyper, normSq); }, 5);
  await time('adamwMany 448 tensors × 65536 (pairs)', 448 * 65536 * 28, (s) => adamwMany(gpu, s, ts, hyper, normSq), 5);
}
console.log('done');
