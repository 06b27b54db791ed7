// Shared by the row-wise and element-wise kernel families (norm, rope, activation, loss, optim):
//  - withLanes(source, W): a WGSL preamble that fixes the vector width the kernel body works in. The .wgsl bodies are
//    written once against `V` (f32 or vec4<f32>; hsum/hmax reduce a V, lane(v, k) reads lane k, unitLane(k)
//    is the one-hot V with 1 in lane k) so the same source serves any shape (W = 1) and the fast
//    vec4 path when the vectorised dimension is a multiple of 4 (W = 4): fewer loads, fewer instructions.
//  - blockSum: a deterministic workgroup tree reduction (fixed order, so results do not vary run to run).
//  - grid(groups): 2D dispatch geometry for more than 65535 workgroups (rows = B·T·heads can exceed it).
//    Kernels recover the flat workgroup index as wg.y · num_workgroups.x + wg.x.

import type { Gpu } from '../engine/gpu/runtime';

/** Threads per workgroup of every kernel built on this preamble, unless its pipeline overrides WG. */
export const WG = 256;

export type Width = 1 | 4;

/** Vector width to use for a run of `n` contiguous floats: 4 when it divides n. */
export const widthFor = (...ns: number[]): Width => (ns.every((n) => n % 4 === 0) ? 4 : 1);

const common = /* wgsl */ `
// Threads per workgroup: a power of two. An override so row kernels can run short rows with fewer threads
// (more rows in flight per SM); every pipeline that does not set it gets ${WG}, as the TS side assumes.
override WG: u32 = ${WG}u;
var<workgroup> red: array<f32, WG>;

// Σ over the workgroup of x; every thread gets the result. Call from uniform control flow.
fn blockSum(x: f32, lid: u32) -> f32 {
  red[lid] = x;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier(); // red is reused by the next call
  return total;
}

// Flat workgroup index of a 2D dispatch made by grid() in lanes.ts.
fn flatGroup(wg: vec3<u32>, nwg: vec3<u32>) -> u32 { return wg.y * nwg.x + wg.x; }
`;

const vec4Lanes = /* wgsl */ `
alias V = vec4<f32>;
const W = 4u;
fn hsum(v: V) -> f32 { return v.x + v.y + v.z + v.w; }
fn hmax(v: V) -> f32 { return max(max(v.x, v.y), max(v.z, v.w)); }
fn lane(v: V, k: u32) -> f32 { return v[k]; }
fn unitLane(k: u32) -> V { return select(V(0.0), V(1.0), vec4<u32>(0u, 1u, 2u, 3u) == vec4<u32>(k)); }
`;

const scalarLanes = /* wgsl */ `
alias V = f32;
const W = 1u;
fn hsum(v: V) -> f32 { return v; }
fn hmax(v: V) -> f32 { return v; }
fn lane(v: V, k: u32) -> f32 { return v; }
fn unitLane(k: u32) -> V { return 1.0; }
`;

const cache = new Map<string, string>();

/** `source` with the preamble for vector width W prepended (memoised so pipeline keys stay cheap to build). */
export function withLanes(source: string, width: Width): string {
  const key = `${width}:${source}`;
  let s = cache.get(key);
  if (!s) cache.set(key, (s = (width === 4 ? vec4Lanes : scalarLanes) + common + source));
  return s;
}

/** Workgroup grid covering `groups` workgroups within the device's per-dimension limit (65535 by default). */
export function grid(gpu: Gpu, groups: number): [number, number] {
  const max = gpu.info.limits.maxComputeWorkgroupsPerDimension ?? 65535;
  if (groups <= max) return [groups, 1];
  const y = Math.ceil(groups / max);
  return [Math.ceil(groups / y), y];
}
