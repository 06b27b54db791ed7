// Attention family: causal grouped-query attention, flash style, forward and backward.
//   q [B, seq, H, D]; k, v [B, kvSeq, KV, D]; out [B, seq, H, D]; lse [B, H, seq]
// Forward (attention.wgsl): one pass with online softmax over key tiles, saves lse = log Σ exp(scores).
//   Decode (seq <= 4 rows against a longer cache): the same kernel in split mode, one workgroup per chunk
//   of keys, then attention_combine.wgsl merges the chunks' partial softmaxes (flash-decoding).
// Backward (flash-attention-2): rowDot D = rowsum(dout·out) (attention_rowdot.wgsl), then
//   dq by query tiles (attention_dq.wgsl) and dk, dv by key tiles (attention_dkv.wgsl), each recomputing
//   P = exp(scores − lse) tile by tile. dk/dv of a kv head sum over its query heads inside one workgroup
//   (or, when that leaves the GPU idle, over a few workgroups whose parts attention_sum.wgsl adds in
//   order): no atomics, results are deterministic.
// Tile sizes are baked into the WGSL per head dim (specialize()) and picked to fit the device's workgroup
// memory (32 KiB in browsers, 48 KiB on H100/Dawn, where bigger tiles are used).
// H100 (Dawn/Vulkan), B4 T1024 H32 KV8 D64: forward 1.13 ms (15 TFLOP/s), backward 4.4 ms (9.7 TFLOP/s),
// decode of one row against 1024 cached keys 0.025 ms (bench/attention-bench.ts).
import type { Gpu, Step } from '../engine/gpu/runtime';
import forwardSource from './attention.wgsl?raw';
import rowDotSource from './attention_rowdot.wgsl?raw';
import dqSource from './attention_dq.wgsl?raw';
import dkvSource from './attention_dkv.wgsl?raw';
import combineSource from './attention_combine.wgsl?raw';
import sumSource from './attention_sum.wgsl?raw';

export interface AttentionShape {
  batch: number;
  /** query rows per sequence */
  seq: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** rows of the k/v buffers per sequence (KV cache capacity); default seq */
  kvSeq?: number;
  /** absolute position of query row 0 (decode: tokens already in the cache); default 0 */
  posStart?: number;
}

/** Tiles of one kernel: rows handled per workgroup, keys (or queries) per inner tile, threads. */
export interface AttentionTiles {
  BQ: number;
  BK: number;
  WG: number;
}

/** decode: the forward kernel in split mode, for a few query rows against many keys */
type Kernel = 'forward' | 'decode' | 'dq' | 'dkv';

/** Workgroup memory (bytes) each kernel declares, mirroring the var<workgroup> arrays of its .wgsl. */
export function attentionSharedBytes(kernel: Kernel, D: number, t: AttentionTiles): number {
  const KS = D | 1;
  const CG = t.WG / (kernel === 'dkv' ? t.BK / 4 : t.BQ / 4);
  if (kernel === 'forward' || kernel === 'decode') return 4 * (D * t.BQ + t.BK * KS + t.BK * t.BQ + t.BQ * CG + 2 * t.BQ);
  if (kernel === 'dq') return 4 * (2 * D * t.BQ + t.BK * KS + t.BK * t.BQ);
  return 4 * (2 * D * t.BK + 2 * t.BQ * KS + 2 * t.BQ * t.BK + 2 * t.BQ); // dkv: BK keys resident, BQ queries per tile
}

// Preferred first. forward/dq: BQ query rows, BK keys per tile. dkv: BK keys resident, BQ queries per tile.
const CANDIDATES: Record<Kernel, AttentionTiles[]> = {
  // H100 (48 KiB), B4 T1024 H32 KV8 D64: forward 32×32 15.2 TFLOP/s, 64×32 13.3; backward 9.7.
  // D128 (B2): forward 12, backward 6.1–6.3 with dkv 32 keys × 8 queries or 16 × 16.
  forward: [
    { BQ: 32, BK: 32, WG: 128 },
    { BQ: 64, BK: 32, WG: 256 },
    { BQ: 32, BK: 16, WG: 128 },
    { BQ: 16, BK: 16, WG: 64 },
    { BQ: 8, BK: 8, WG: 16 },
  ],
  // 4 query rows (one row group), one key per thread: each split workgroup handles one or a few key tiles
  decode: [
    { BQ: 4, BK: 128, WG: 128 },
    { BQ: 4, BK: 64, WG: 64 },
    { BQ: 4, BK: 32, WG: 32 },
    { BQ: 4, BK: 16, WG: 16 },
  ],
  dq: [
    { BQ: 32, BK: 32, WG: 128 },
    { BQ: 32, BK: 16, WG: 128 },
    { BQ: 16, BK: 16, WG: 64 },
    { BQ: 8, BK: 8, WG: 16 },
  ],
  dkv: [
    { BK: 32, BQ: 32, WG: 128 },
    { BK: 32, BQ: 16, WG: 128 },
    { BK: 32, BQ: 8, WG: 64 },
    { BK: 16, BQ: 16, WG: 64 },
    { BK: 16, BQ: 8, WG: 32 },
    { BK: 8, BQ: 8, WG: 16 },
    { BK: 4, BQ: 8, WG: 8 }, // 16 KiB devices at D 128
  ],
};

/** The first candidate tiling that the device can run for this head dim (tests may pass their own list). */
export function attentionTiles(gpu: Gpu, kernel: Kernel, D: number, candidates = CANDIDATES[kernel]): AttentionTiles {
  const mem = gpu.info.limits.maxComputeWorkgroupStorageSize ?? 16384;
  const threads = gpu.info.limits.maxComputeInvocationsPerWorkgroup ?? 256;
  for (const t of candidates) {
    const groups = kernel === 'dkv' ? t.BK / 4 : t.BQ / 4;
    const CG = t.WG / groups;
    const inner = kernel === 'dkv' ? t.BQ : t.BK;
    if (t.WG > threads || !Number.isInteger(CG) || inner % CG !== 0) continue;
    if (attentionSharedBytes(kernel, D, t) <= mem) return t;
  }
  throw new Error(`attention: no tiling of head dim ${D} fits ${mem} bytes of workgroup memory`);
}

// Pipelines by (source, constants) under a short key: decode calls this per layer per token, and rebuilding
// the source string plus the runtime's full-source cache key cost tens of µs of JS each time.
const pipelines = new WeakMap<Gpu, Map<string, Promise<GPUComputePipeline>>>();
const sourceIds = new Map<string, number>();
function specialized(gpu: Gpu, source: string, consts: Record<string, number>): Promise<GPUComputePipeline> {
  let m = pipelines.get(gpu);
  if (!m) pipelines.set(gpu, (m = new Map()));
  let id = sourceIds.get(source);
  if (id === undefined) sourceIds.set(source, (id = sourceIds.size));
  const key = `${id}:${Object.values(consts).join(',')}`;
  let p = m.get(key);
  if (!p) {
    p = gpu.pipeline(specialize(source, consts));
    p.catch(() => m!.delete(key));
    m.set(key, p);
  }
  return p;
}

/** Rewrites the `const NAME = 123u;` lines of a kernel source. */
function specialize(source: string, consts: Record<string, number>): string {
  let out = source;
  for (const [name, value] of Object.entries(consts)) {
    const re = new RegExp(`const ${name} = \\d+u;`);
    if (!re.test(out)) throw new Error(`attention: constant ${name} not found in kernel source`);
    out = out.replace(re, `const ${name} = ${value}u;`);
  }
  return out;
}

function check(s: AttentionShape) {
  const { batch, seq, heads, kvHeads, headDim } = s;
  const kvSeq = s.kvSeq ?? seq;
  const posStart = s.posStart ?? 0;
  if (![batch, seq, heads, kvHeads, headDim].every((n) => Number.isInteger(n) && n > 0))
    throw new Error(`attention: bad shape ${JSON.stringify(s)}`);
  if (kvHeads > heads) throw new Error(`attention: kvHeads ${kvHeads} above heads ${heads}`);
  if (headDim > 256) throw new Error(`attention: head dim ${headDim} above 256`);
  if (posStart + seq > kvSeq) throw new Error(`attention: posStart ${posStart} + seq ${seq} exceeds kvSeq ${kvSeq}`);
  return { kvSeq, posStart, scale: 1 / Math.sqrt(headDim) };
}

/** Split mode (flash-decoding) serves query tiles of at most this many rows; at most MAX_SPLITS chunks. */
const DECODE_ROWS = 4;
const MAX_SPLITS = 64;

/** Below this many dk/dv workgroups, attentionBackward splits each GQA group's heads over several. */
const DKV_TARGET_WORKGROUPS = 256;

/** Optional overrides, for tests that exercise every tiling and split. */
export interface TileOverride {
  tiles?: Partial<Record<Kernel, AttentionTiles>>;
  /** number of workgroups sharing the heads of one GQA group in the dk/dv pass (default: by grid size) */
  dkvSplits?: number;
}

/**
 * out = softmax(scale·q·kᵀ + causal mask)·v per head; lse [B, H, seq] = log Σ_j exp(scale·q·k_j).
 * Query row t (absolute position posStart + t) sees keys j <= posStart + t of the kvSeq rows of k/v.
 */
export async function attentionForward(
  gpu: Gpu, step: Step, s: AttentionShape & TileOverride,
  q: GPUBuffer, k: GPUBuffer, v: GPUBuffer, out: GPUBuffer, lse: GPUBuffer,
) {
  const { kvSeq, posStart, scale } = check(s);
  const D = s.headDim;
  const { batch: B, seq: T, heads: H, kvHeads: KV } = s;
  const keys = Math.min(kvSeq, posStart + T); // keys any row sees
  const G = H % KV === 0 ? H / KV : 1; // heads sharing a workgroup (and its K/V tiles)
  const td = s.seq <= DECODE_ROWS ? s.tiles?.decode ?? attentionTiles(gpu, 'decode', D) : null;
  if (td && keys > td.BK) {
    // Decode: one workgroup per (chunk of keys, GQA group, batch) instead of one walking all the keys,
    // then a merge of the chunks' partial softmaxes.
    const chunk = td.BK * Math.ceil(Math.ceil(keys / td.BK) / MAX_SPLITS);
    const splits = Math.ceil(keys / chunk);
    const elements = B * T * H * D;
    const partOut = scratchBuffer(gpu, 'attention split out', splits * elements);
    const partLse = scratchBuffer(gpu, 'attention split lse', splits * B * H * T);
    const pipeline = await specialized(gpu, forwardSource, { HEAD_DIM: D, BQ: td.BQ, BK: td.BK, WG: td.WG });
    const params = gpu.uniform([T, kvSeq, posStart, H, KV, chunk, splits, G], 'mixed', [scale]);
    step.dispatch(pipeline, [params, q, k, v, partOut, partLse], Math.ceil((T * G) / td.BQ), H / G, B * splits);
    const combine = await specialized(gpu, combineSource, { HEAD_DIM: D });
    const groups = Math.ceil(elements / 64);
    step.dispatch(combine, [gpu.uniform([elements, T, H, splits]), partOut, partLse, out, lse], Math.min(groups, 65535), Math.ceil(groups / 65535));
    return;
  }
  const t = s.tiles?.forward ?? attentionTiles(gpu, 'forward', D);
  const pipeline = await specialized(gpu, forwardSource, { HEAD_DIM: D, BQ: t.BQ, BK: t.BK, WG: t.WG });
  const params = gpu.uniform([T, kvSeq, posStart, H, KV, kvSeq, 1, G], 'mixed', [scale]);
  step.dispatch(pipeline, [params, q, k, v, out, lse], Math.ceil((T * G) / t.BQ), H / G, B);
}

// Internal scratch (rowDot, split partials), one buffer per purpose, size and device. Every user writes
// before it reads within its own step, so layers share them.
const scratch = new WeakMap<Gpu, Map<string, GPUBuffer>>();
function scratchBuffer(gpu: Gpu, label: string, floats: number): GPUBuffer {
  let m = scratch.get(gpu);
  if (!m) scratch.set(gpu, (m = new Map()));
  const key = `${label} ${floats}`;
  let buf = m.get(key);
  if (!buf) m.set(key, (buf = gpu.buffer(floats * 4, key)));
  return buf;
}

/** dq, dk, dv (all overwritten) of attentionForward without kv cache (kvSeq = seq, posStart = 0). */
export async function attentionBackward(
  gpu: Gpu, step: Step, s: AttentionShape & TileOverride,
  q: GPUBuffer, k: GPUBuffer, v: GPUBuffer, out: GPUBuffer, lse: GPUBuffer, dout: GPUBuffer,
  dq: GPUBuffer, dk: GPUBuffer, dv: GPUBuffer,
) {
  const { kvSeq, posStart, scale } = check(s);
  if (kvSeq !== s.seq || posStart !== 0) throw new Error('attentionBackward: kvSeq/posStart are forward-only (decode)');
  const D = s.headDim;
  const { batch: B, seq: T, heads: H, kvHeads: KV } = s;
  const params = gpu.uniform([T, H, KV], 'mixed', [scale]);
  const rows = B * H * T;
  const rowDot = scratchBuffer(gpu, 'attention rowDot', rows);

  const rd = await specialized(gpu, rowDotSource, { HEAD_DIM: D });
  const groups = Math.ceil(rows / 64);
  step.dispatch(rd, [params, out, dout, rowDot], Math.min(groups, 65535), Math.ceil(groups / 65535));

  const tq = s.tiles?.dq ?? attentionTiles(gpu, 'dq', D);
  const dqPipe = await specialized(gpu, dqSource, { HEAD_DIM: D, BQ: tq.BQ, BK: tq.BK, WG: tq.WG });
  step.dispatch(dqPipe, [params, q, k, v, dout, lse, rowDot, dq], Math.ceil(T / tq.BQ), H, B);

  const tk = s.tiles?.dkv ?? attentionTiles(gpu, 'dkv', D);
  const dkvPipe = await specialized(gpu, dkvSource, { HEAD_DIM: D, BQ: tk.BQ, BK: tk.BK, WG: tk.WG });
  const keyTiles = Math.ceil(T / tk.BK);
  // One workgroup per (key tile, kv head, batch) walks all G = H/KV heads of its group. When that makes
  // too few workgroups (Qwen2 0.5B: KV 2, batch 1), the heads are split over more workgroups whose partial
  // dk/dv are then summed in order.
  const G = Math.ceil(H / KV);
  const wanted = s.dkvSplits ?? Math.min(G, Math.ceil(DKV_TARGET_WORKGROUPS / (keyTiles * KV * B)));
  const headsPerSplit = Math.ceil(G / Math.max(1, wanted));
  const splits = Math.ceil(G / headsPerSplit);
  const dkvParams = gpu.uniform([T, H, KV, headsPerSplit, splits], 'mixed', [scale]);
  if (splits === 1) {
    step.dispatch(dkvPipe, [dkvParams, q, k, v, dout, lse, rowDot, dk, dv], keyTiles, KV, B);
    return;
  }
  const elements = B * T * KV * D;
  const partK = scratchBuffer(gpu, 'attention dk parts', splits * elements);
  const partV = scratchBuffer(gpu, 'attention dv parts', splits * elements);
  step.dispatch(dkvPipe, [dkvParams, q, k, v, dout, lse, rowDot, partK, partV], keyTiles, KV, B * splits);
  const sum = await specialized(gpu, sumSource, {});
  const sumGroups = Math.ceil(elements / 64);
  step.dispatch(sum, [gpu.uniform([elements, splits]), partK, partV, dk, dv], Math.min(sumGroups, 65535), Math.ceil(sumGroups / 65535));
}
