// RoPE family: the cos/sin table (CPU, as transformers computes it, incl. Llama 3 frequency scaling) and the
// in-place rotation kernel, whose inverse is its backward.
import type { Gpu, Step } from '../engine/gpu/runtime';
import { WG, grid, widthFor, withLanes } from './lanes';
import source from './rope.wgsl?raw';

export type { Llama3RopeScaling } from '../engine/model/config';
import type { Llama3RopeScaling } from '../engine/model/config';

/** HF config's rope_scaling as found in config.json (older files say `type` instead of `rope_type`). */
export type RopeScaling = Llama3RopeScaling | { rope_type?: string; type?: string; [k: string]: unknown };

const f32 = Math.fround;

/**
 * inv_freq [headDim/2] exactly as transformers computes it: `_compute_default_rope_parameters`, and for
 * rope_type 'llama3' `_compute_llama3_parameters`. transformers works in float32 tensors; each of its
 * float32 operations is reproduced here with Math.fround so the table matches the one the model was
 * trained and evaluated with (torch's `scalar / tensor` is `tensor.reciprocal() * scalar`).
 */
export function ropeInvFreq(headDim: number, theta: number, ropeScaling?: RopeScaling | null): Float32Array {
  if (headDim % 2) throw new Error(`RoPE needs an even head dimension, got ${headDim}`);
  const half = headDim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) inv[i] = f32(1 / f32(Math.pow(theta, f32((2 * i) / headDim))));
  const type = ropeScaling ? (ropeScaling.rope_type ?? ropeScaling.type ?? 'default') : 'default';
  if (type === 'default') return inv;
  if (type !== 'llama3') throw new Error(`rope_scaling type '${String(type)}' is not supported (only default and llama3)`);
  const s = ropeScaling as Llama3RopeScaling;
  const factor = f32(s.factor);
  const oldContext = s.original_max_position_embeddings;
  const lowFreqWavelen = oldContext / s.low_freq_factor; // python floats: compared against f32 wavelen
  const highFreqWavelen = oldContext / s.high_freq_factor;
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const wavelen = f32(f32(1 / inv[i]) * f32(2 * Math.PI));
    const scaled = wavelen > f32(lowFreqWavelen) ? f32(inv[i] / factor) : inv[i];
    const isMedium = !(wavelen < f32(highFreqWavelen)) && !(wavelen > f32(lowFreqWavelen));
    if (!isMedium) {
      out[i] = scaled;
      continue;
    }
    // smooth = (old_context / wavelen − low) / (high − low); interpolate between inv/factor and inv
    const smooth = f32(f32(f32(f32(1 / wavelen) * oldContext) - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor));
    out[i] = f32(f32(f32(f32(1 - smooth) * scaled) / factor) + f32(smooth * scaled));
  }
  return out;
}

/**
 * cos [maxSeq, headDim/2] followed by sin [maxSeq, headDim/2] (Float32Array of maxSeq·headDim).
 * Angle = float32(inv_freq · pos) as transformers' float32 matmul gives it; cos and sin in float64,
 * rounded once to f32. Upload it to a buffer of exactly this size: rope() derives maxSeq from it.
 */
export function ropeTable(headDim: number, maxSeq: number, theta: number, ropeScaling?: RopeScaling | null): Float32Array {
  const inv = ropeInvFreq(headDim, theta, ropeScaling);
  const half = headDim / 2;
  const table = new Float32Array(2 * maxSeq * half);
  for (let pos = 0; pos < maxSeq; pos++)
    for (let i = 0; i < half; i++) {
      const angle = f32(inv[i] * pos);
      table[pos * half + i] = Math.cos(angle);
      table[(maxSeq + pos) * half + i] = Math.sin(angle);
    }
  return table;
}

export interface RopeShape {
  batch: number;
  seq: number;
  heads: number;
  headDim: number;
  /** position of t = 0 (KV-cache decode); default 0 */
  posStart?: number;
  /** rotate by −θ: the backward */
  inverse?: boolean;
}

/** Rotates x [batch, seq, heads, headDim] in place; row t sits at position posStart + t. */
export async function rope(gpu: Gpu, step: Step, s: RopeShape, x: GPUBuffer, table: GPUBuffer) {
  const half = s.headDim / 2;
  const maxSeq = table.size / 4 / s.headDim;
  const posStart = s.posStart ?? 0;
  if (!Number.isInteger(maxSeq)) throw new Error(`rope: table of ${table.size} bytes is not [2, maxSeq, ${half}] f32`);
  if (posStart + s.seq > maxSeq) throw new Error(`rope: positions up to ${posStart + s.seq - 1} but the table has ${maxSeq}`);
  const width = widthFor(half);
  const halfV = half / width;
  const total = s.batch * s.seq * s.heads * halfV;
  const pipeline = await gpu.pipeline(withLanes(source, width), 'rope', { INVERSE: s.inverse ? 1 : 0 });
  const params = gpu.uniform([total, halfV, s.heads, s.seq, posStart, maxSeq * halfV]);
  step.dispatch(pipeline, [params, x, table], ...grid(gpu, Math.ceil(total / WG)));
}
