// Matmul family: C[M, N] (+)= alpha · op(A) · op(B), with A or B optionally stored transposed and B optionally
// 16-bit (frozen weights: f16 or bf16 packed two per u32, element 2i in the low half of word i).
//
// The tiled kernel is generated from TS (Tint does not unroll loops) for each (tile shape, layout, vector width):
//   - a BM×BN output tile per workgroup, TM×TN outputs per thread, K walked in slabs of BK;
//   - global loads as wide as the stored layout allows (vec4 of f32, up to 8 packed 16-bit values), chosen per call
//     from the divisibility of the contiguous dimension, so odd sizes still work with scalar loads;
//   - interior tiles load without bounds checks; only edge tiles (and the last K slab) pay for them;
//   - split-K for skinny products (LoRA's r dimension: dA = gᵀ·x has M = r, N = in, K = tokens): each workgroup
//     takes a K range and writes a partial product to a scratch buffer; a second kernel (matmul.wgsl) sums them.
// Shared tiles are k-major rows of vec4 (As [BK][BM], Bs [BK][BN]); a thread's rows and columns are interleaved
// vec4 groups ((g·WG + t)·4) so that neighbouring threads read neighbouring vec4s (no bank conflicts).
import type { Gpu, Step } from '../engine/gpu/runtime';
import reduceSource from './matmul.wgsl?raw';

export type WeightType = 'f32' | 'f16' | 'bf16';

export interface MatmulShape {
  M: number;
  N: number;
  K: number;
  /** A stored [K, M] (use Aᵀ) */
  transA?: boolean;
  /** B stored [N, K] (use Bᵀ): y = x·Wᵀ for a PyTorch Linear weight W [out, in] */
  transB?: boolean;
  /** C += alpha·A·B instead of C = alpha·A·B */
  accumulate?: boolean;
  alpha?: number;
  /** B's storage: f32, or 16-bit packed two per u32 word (element 2i in the low half) */
  bType?: WeightType;
}

/** How one matmul is run: the tile shape and how many K ranges it is split into. */
export interface MatmulPlan {
  BM: number;
  BN: number;
  BK: number;
  TM: number;
  TN: number;
  /** number of K ranges (1 = no split-K) */
  splits: number;
}

/** Workgroups wanted in flight: ~2 per SM of a big GPU (256-thread tiles). Fewer tiles than this → split K. */
const TARGET_WORKGROUPS = 256;
/** The same for the 128-thread 64×128 tile, ~4 of which fit an SM. */
const TARGET_WORKGROUPS_WIDE = 512;
/** Below this many K per split the partial sums are not worth their scratch traffic. */
const MIN_K_PER_SPLIT = 128;

/**
 * Picks the tile and split-K for a shape: small M or N (the LoRA rank) gets a narrow tile, not a wasted 64-wide one.
 * Wide products (N ≥ 256) take 64×128 tiles, 8×8 outputs per thread, BK 16 (128 threads). Measured on an H200
 * (bench/matmul.ts --sweep; bench/results/2026-12-01-h200-qwen-profile): every bf16 frozen-weight product of the
 * Qwen2.5-0.5B and SmolLM2 shapes at 2048 tokens ran 1.2-1.5× faster than on the 64×64 (4×4) or 128×128 (8×8) tiles
 * (e.g. [2048, 896]·[4864, 896]ᵀ 36 TFLOP/s vs 28; the LM head's logits 40 vs 36), and splitting K when 224 such
 * tiles already exist only added the reduction. Big f32 products with ≥ 256 tiles of 128×128 stay on 128×128
 * (4096³: 39.6 TFLOP/s vs 36.9). Narrower N (k/v projections, N = 128 or 192) stays on 64×64 with split-K,
 * which measured best there. Long-K products with few tiles (the LM head's dh = dlogits·E: K = vocabulary) split K.
 */
export function planMatmul(s: Pick<MatmulShape, 'M' | 'N' | 'K' | 'bType'>): MatmulPlan {
  const side = (n: number) => (n <= 16 ? 16 : n <= 32 ? 32 : 64);
  let t = { BM: side(s.M), BN: side(s.N), BK: 16, TM: 4, TN: 4 };
  let wide = false;
  if (t.BM === 64 && t.BN === 64 && s.N >= 256) {
    if ((s.bType ?? 'f32') === 'f32' && Math.ceil(s.M / 128) * Math.ceil(s.N / 128) >= TARGET_WORKGROUPS) t = { BM: 128, BN: 128, BK: 8, TM: 8, TN: 8 };
    else (t = { BM: 64, BN: 128, BK: 16, TM: 8, TN: 8 }), (wide = true);
  }
  const tiles = Math.ceil(s.M / t.BM) * Math.ceil(s.N / t.BN);
  const target = wide ? TARGET_WORKGROUPS_WIDE : TARGET_WORKGROUPS;
  if (wide && tiles >= TARGET_WORKGROUPS / 2) return { ...t, splits: 1 };
  const splits = Math.min(Math.ceil(target / tiles), Math.floor(s.K / MIN_K_PER_SPLIT), 64);
  return { ...t, splits: Math.max(1, splits) };
}

interface Variant {
  plan: Omit<MatmulPlan, 'splits'>;
  transA: boolean;
  transB: boolean;
  bType: WeightType;
  vecA: number; // elements per global load of A: 1 or 4
  vecB: number; // f32: 1 or 4; 16-bit: 1, 2, 4 or 8
  vecC: number; // 1 or 4
  split: boolean; // write raw partial sums to scratch [splits, M, N] instead of alpha·acc into C
  accumulate: boolean;
}

/** The widest load whose elements stay in one row of the stored matrix (`inner` = its contiguous length). */
function vecWidth(inner: number, bType: WeightType): number {
  if (bType === 'f32') return inner % 4 === 0 ? 4 : 1;
  return inner % 8 === 0 ? 8 : inner % 4 === 0 ? 4 : inner % 2 === 0 ? 2 : 1;
}

const codeCache = new Map<string, string>();

function kernelSource(v: Variant): string {
  const key = JSON.stringify(v);
  let code = codeCache.get(key);
  if (!code) codeCache.set(key, (code = generate(v)));
  return code;
}

// One operand's stored layout, for the loader generator: rows of `outer`, contiguous along `inner`.
interface Operand {
  name: 'A' | 'B';
  shared: 'As' | 'Bs';
  sharedWidth: number; // BM for As, BN for Bs: the non-k extent of the shared tile
  outer: Dim;
  inner: Dim;
  /** true when the inner (contiguous) dimension is k: the shared write scatters over k rows */
  innerIsK: boolean;
  vec: number;
  type: WeightType;
}
interface Dim {
  tile: number; // extent in the tile
  base: string; // WGSL expression: tile origin
  bound: string; // WGSL expression: end of the valid range (kEnd for k, so split-K ranges do not overlap)
  size: string; // WGSL expression: stored length (the leading dimension when inner)
}

// Loads go through private registers so that the next slab's global reads are in flight while the current
// slab is multiplied: `fetch` reads global memory into r<A|B><l>, `stash` writes those registers to shared memory.
function regType(op: Operand): string {
  if (op.type === 'f32') return op.vec === 4 ? 'vec4<f32>' : 'f32';
  if (op.vec === 1) return 'f32';
  return op.vec === 2 ? 'u32' : `vec${op.vec / 2}<u32>`;
}

function loaderRegs(op: Operand, threads: number): string {
  const n = Math.ceil((op.outer.tile * op.inner.tile) / op.vec / threads);
  return Array.from({ length: n }, (_, l) => `var<private> r${op.name}${l}: ${regType(op)};`).join('\n');
}

function loaderBody(op: Operand, threads: number, mode: 'fetch' | 'fetchChecked' | 'stash'): string {
  const V = op.vec;
  const perRow = op.inner.tile / V;
  const chunks = op.outer.tile * perRow;
  const lines: string[] = [];
  for (let l = 0; l * threads < chunks; l++) {
    const reg = `r${op.name}${l}`;
    const body: string[] = [];
    body.push(`let c = t + ${l * threads}u;`);
    body.push(`let o = c / ${perRow}u; let ic = (c % ${perRow}u) * ${V}u;`);
    if (mode !== 'stash') {
      body.push(`let go = ${op.outer.base} + o; let gi = ${op.inner.base} + ic;`);
      body.push(`let e = go * ${op.inner.size} + gi;`);
      // \`&\`, not \`&&\`: short-circuit nests a branch per load, which SwiftShader's compiler takes minutes over
      const inb = `(go < ${op.outer.bound}) & (gi < ${op.inner.bound})`;
      const ty = regType(op);
      let load: string;
      if (op.type === 'f32') load = `${op.name}[${V === 4 ? 'e / 4u' : 'e'}]`;
      else if (V === 1) load = `unpack16(${op.name}[e / 2u])[e & 1u]`;
      else load = `${op.name}[e / ${V}u]`;
      const zero = ty === 'f32' || ty.endsWith('<f32>') ? `${ty}(0.0)` : `${ty}(0u)`;
      body.push(mode === 'fetchChecked' ? `${reg} = ${zero}; if (${inb}) { ${reg} = ${load}; }` : `${reg} = ${load};`);
    } else {
      // vals: WGSL expressions of the V loaded elements, in order along the inner dimension
      let vals: string[] = [];
      if (V === 1) vals = [reg];
      else if (op.type === 'f32') vals = ['x', 'y', 'z', 'w'].map((c) => `${reg}.${c}`);
      else {
        const W = V / 2; // u32 words per load
        for (let q = 0; q < W; q++) {
          body.push(`let u${q} = unpack16(${reg}${W === 1 ? '' : '.' + 'xyzw'[q]});`);
          vals.push(`u${q}.x`, `u${q}.y`);
        }
      }
      const S = op.sharedWidth / 4; // vec4s per shared row
      if (op.innerIsK) {
        // element j sits at k = ic + j, at column o of the shared tile
        for (let j = 0; j < V; j++) body.push(`${op.shared}[(ic + ${j}u) * ${S}u + o / 4u][o % 4u] = ${vals[j]};`);
      } else if (V >= 4) {
        for (let q = 0; q < V / 4; q++)
          body.push(`${op.shared}[o * ${S}u + ic / 4u + ${q}u] = vec4<f32>(${vals.slice(4 * q, 4 * q + 4).join(', ')});`);
      } else {
        for (let j = 0; j < V; j++) body.push(`${op.shared}[o * ${S}u + (ic + ${j}u) / 4u][(ic + ${j}u) % 4u] = ${vals[j]};`);
      }
    }
    const guarded = (l + 1) * threads > chunks;
    lines.push(guarded ? `  if (t + ${l * threads}u < ${chunks}u) {\n    ${body.join('\n    ')}\n  }` : `  {\n    ${body.join('\n    ')}\n  }`);
  }
  return lines.join('\n');
}

function generate(v: Variant): string {
  const { BM, BN, BK, TM, TN } = v.plan;
  const WGX = BN / TN;
  const WGY = BM / TM;
  const threads = WGX * WGY;
  const dimM: Dim = { tile: BM, base: 'row0', bound: 'p.M', size: 'p.M' };
  const dimN: Dim = { tile: BN, base: 'col0', bound: 'p.N', size: 'p.N' };
  const dimK: Dim = { tile: BK, base: 'k0', bound: 'kEnd', size: 'p.K' };
  const opA: Operand = {
    name: 'A', shared: 'As', sharedWidth: BM, vec: v.vecA, type: 'f32',
    ...(v.transA ? { outer: dimK, inner: dimM, innerIsK: false } : { outer: dimM, inner: dimK, innerIsK: true }),
  };
  const opB: Operand = {
    name: 'B', shared: 'Bs', sharedWidth: BN, vec: v.vecB, type: v.bType,
    ...(v.transB ? { outer: dimN, inner: dimK, innerIsK: true } : { outer: dimK, inner: dimN, innerIsK: false }),
  };
  const aType = v.vecA === 4 ? 'vec4<f32>' : 'f32';
  const bElem = v.bType === 'f32' ? (v.vecB === 4 ? 'vec4<f32>' : 'f32') : v.vecB <= 2 ? 'u32' : `vec${v.vecB / 2}<u32>`;
  const unpack =
    v.bType === 'f16' ? 'fn unpack16(w: u32) -> vec2<f32> { return unpack2x16float(w); }'
    : v.bType === 'bf16' ? 'fn unpack16(w: u32) -> vec2<f32> { return vec2<f32>(bitcast<f32>(w << 16u), bitcast<f32>(w & 0xffff0000u)); }'
    : '';
  const cType = v.vecC === 4 ? 'vec4<f32>' : 'f32';

  // Inner product over one shared slab, fully unrolled: per k, TM/4 + TN/4 vec4 reads for TM·TN FMAs.
  const accs: string[] = [];
  for (let i = 0; i < TM / 4; i++) for (let c = 0; c < 4; c++) for (let j = 0; j < TN / 4; j++) accs.push(`acc_${i}_${c}_${j}`);
  const inner: string[] = [];
  for (let k = 0; k < BK; k++) {
    for (let i = 0; i < TM / 4; i++) inner.push(`a${i} = As[${k * (BM / 4) + i * WGY}u + ty];`);
    for (let j = 0; j < TN / 4; j++) inner.push(`b${j} = Bs[${k * (BN / 4) + j * WGX}u + tx];`);
    for (let i = 0; i < TM / 4; i++)
      for (let c = 0; c < 4; c++) for (let j = 0; j < TN / 4; j++) inner.push(`acc_${i}_${c}_${j} += a${i}.${'xyzw'[c]} * b${j};`);
  }

  // Store: row r = (i·WGY + ty)·4 + c, columns n0..n0+3 with n0 = (j·WGX + tx)·4.
  const out = v.split ? 'S' : 'C';
  const base = v.split ? 'wg.z * p.M * p.N + ' : '';
  const store: string[] = [];
  for (let i = 0; i < TM / 4; i++)
    for (let c = 0; c < 4; c++) {
      store.push(`r = (${i * WGY}u + ty) * 4u + ${c}u + row0;`);
      store.push(`if (r < p.M) {`);
      for (let j = 0; j < TN / 4; j++) {
        const acc = `acc_${i}_${c}_${j}`;
        const val = v.split ? acc : `p.alpha * ${acc}`;
        store.push(`  n0 = (${j * WGX}u + tx) * 4u + col0;`);
        if (v.vecC === 4) {
          const idx = `(${base}r * p.N + n0) / 4u`;
          store.push(`  if (n0 < p.N) { ${out}[${idx}] = ${v.accumulate && !v.split ? `${out}[${idx}] + ` : ''}${val}; }`);
        } else {
          for (let d = 0; d < 4; d++) {
            const idx = `${base}r * p.N + n0 + ${d}u`;
            store.push(`  if (n0 + ${d}u < p.N) { ${out}[${idx}] = ${v.accumulate && !v.split ? `${out}[${idx}] + ` : ''}${val}.${'xyzw'[d]}; }`);
          }
        }
      }
      store.push(`}`);
    }

  return `// generated by src/kernels/matmul.ts: ${JSON.stringify(v)}
struct Params { M: u32, N: u32, K: u32, kChunk: u32, alpha: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<${aType}>;
@group(0) @binding(2) var<storage, read> B: array<${bElem}>;
@group(0) @binding(3) var<storage, read_write> ${out}: array<${cType}>;

var<workgroup> As: array<vec4<f32>, ${(BK * BM) / 4}>; // [BK][BM]
var<workgroup> Bs: array<vec4<f32>, ${(BK * BN) / 4}>; // [BK][BN]
${unpack}

${loaderRegs(opA, threads)}
${loaderRegs(opB, threads)}

// Interior slab: every load in bounds, no checks.
fn fetch(t: u32, row0: u32, col0: u32, k0: u32, kEnd: u32) {
${loaderBody(opA, threads, 'fetch')}
${loaderBody(opB, threads, 'fetch')}
}

// Edge slab: loads outside the matrix (or past this split's K range) read 0.
fn fetchChecked(t: u32, row0: u32, col0: u32, k0: u32, kEnd: u32) {
${loaderBody(opA, threads, 'fetchChecked')}
${loaderBody(opB, threads, 'fetchChecked')}
}

fn stash(t: u32) {
${loaderBody(opA, threads, 'stash')}
${loaderBody(opB, threads, 'stash')}
}

@compute @workgroup_size(${WGX}, ${WGY})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let tx = lid.x;
  let ty = lid.y;
  let t = ty * ${WGX}u + tx;
  let row0 = wg.y * ${BM}u;
  let col0 = wg.x * ${BN}u;
  let kBegin = wg.z * p.kChunk;
  let kEnd = min(p.K, kBegin + p.kChunk);
  let interior = (row0 + ${BM}u <= p.M) & (col0 + ${BN}u <= p.N);
  ${accs.map((a) => `var ${a} = vec4<f32>(0.0);`).join('\n  ')}
  ${Array.from({ length: TM / 4 }, (_, i) => `var a${i}: vec4<f32>;`).join(' ')}
  ${Array.from({ length: TN / 4 }, (_, j) => `var b${j}: vec4<f32>;`).join(' ')}
  if (interior & (kBegin + ${BK}u <= kEnd)) { fetch(t, row0, col0, kBegin, kEnd); } else { fetchChecked(t, row0, col0, kBegin, kEnd); }
  for (var k0 = kBegin; k0 < kEnd; k0 += ${BK}u) {
    stash(t);
    workgroupBarrier();
    // next slab's global reads, in flight during this slab's FMAs
    let kn = k0 + ${BK}u;
    if (kn < kEnd) {
      if (interior & (kn + ${BK}u <= kEnd)) { fetch(t, row0, col0, kn, kEnd); } else { fetchChecked(t, row0, col0, kn, kEnd); }
    }
    ${inner.join('\n    ')}
    workgroupBarrier();
  }
  var r: u32;
  var n0: u32;
  ${store.join('\n  ')}
}
`;
}

/** One scratch buffer per device for split-K partial sums, grown on demand. Dispatches in a step run in order,
 *  so every split-K matmul of a step can share it; a replaced buffer stays alive while recorded work holds it. */
const scratchByGpu = new WeakMap<Gpu, GPUBuffer>();
function splitScratch(gpu: Gpu, bytes: number): GPUBuffer {
  let buf = scratchByGpu.get(gpu);
  if (!buf || buf.size < bytes) {
    buf = gpu.buffer(Math.max(bytes, (buf?.size ?? 0) * 2), 'matmul split-K scratch');
    scratchByGpu.set(gpu, buf);
  }
  return buf;
}

function checkPlan(p: MatmulPlan) {
  const ok = p.TM % 4 === 0 && p.TN % 4 === 0 && p.BM % p.TM === 0 && p.BN % p.TN === 0 && p.BK % 8 === 0 && p.splits >= 1;
  if (!ok) throw new Error(`matmul: bad plan ${JSON.stringify(p)}`);
}

/** Records C (+)= alpha·op(A)·op(B) into the step. `plan` overrides the automatic choice (tests, tuning). */
export async function matmul(gpu: Gpu, step: Step, s: MatmulShape, A: GPUBuffer, B: GPUBuffer, C: GPUBuffer, plan?: MatmulPlan) {
  const { M, N, K } = s;
  if (M === 0 || N === 0) return;
  const bType = s.bType ?? 'f32';
  const pl = plan ?? planMatmul(s);
  checkPlan(pl);
  const alpha = s.alpha ?? 1;
  if (K === 0) {
    // empty sum: C = 0, or C unchanged when accumulating
    if (!s.accumulate) step.clear(C, 0, M * N * 4);
    return;
  }
  // K per split, a multiple of BK so that only the last split has a partial slab
  const kChunk = Math.ceil(Math.ceil(K / pl.splits) / pl.BK) * pl.BK;
  const splits = Math.ceil(K / kChunk);
  const transA = !!s.transA;
  const transB = !!s.transB;
  const variant: Variant = {
    plan: { BM: pl.BM, BN: pl.BN, BK: pl.BK, TM: pl.TM, TN: pl.TN },
    transA, transB, bType,
    vecA: vecWidth(transA ? M : K, 'f32'),
    vecB: vecWidth(transB ? K : N, bType),
    vecC: N % 4 === 0 ? 4 : 1,
    split: splits > 1,
    accumulate: splits > 1 ? false : !!s.accumulate,
  };
  const pipeline = await gpu.pipeline(kernelSource(variant));
  const params = gpu.uniform([M, N, K, kChunk], 'mixed', [alpha]);
  const grid = [Math.ceil(N / pl.BN), Math.ceil(M / pl.BM)] as const;
  if (splits === 1) {
    step.dispatch(pipeline, [params, A, B, C], grid[0], grid[1]);
    return;
  }
  const scratch = splitScratch(gpu, splits * M * N * 4);
  step.dispatch(pipeline, [params, A, B, scratch], grid[0], grid[1], splits);
  const reduce = await gpu.pipeline(reduceSource, 'main', { ACCUMULATE: s.accumulate ? 1 : 0 });
  const count = M * N;
  const groups = Math.ceil(count / 256);
  const gx = Math.min(groups, 65535);
  step.dispatch(reduce, [gpu.uniform([count, splits, gx * 256], 'mixed', [alpha]), scratch, C], gx, Math.ceil(groups / gx));
}
