// Embedding family: token gather from an f32 or packed 16-bit table, plus GPT-2's learned positions.
// The embedding tables are frozen under LoRA, so there is no backward.
import type { Gpu, Step } from '../engine/gpu/runtime';
import { grid, withLanes } from './lanes';
import source from './embedding.wgsl?raw';

export type WeightDtype = 'f32' | 'f16' | 'bf16';
const DTYPE_CODE: Record<WeightDtype, number> = { f32: 0, f16: 1, bf16: 2 };

export interface EmbeddingShape {
  tokens: number;
  dim: number;
  /** storage of `table`: f32, or 16-bit packed two per u32 (element 2i in the low half) */
  dtype: WeightDtype;
  /** sequence length: token i sits at position posStart + i % seq (default: tokens) */
  seq?: number;
  /** storage of `positions` (default f32) */
  posDtype?: WeightDtype;
  /** position of the first token of each sequence (KV-cache decode); default 0 */
  posStart?: number;
}

/**
 * out[t, :] = table[ids[t], :] (+ positions[posStart + t % seq, :] when positions is given).
 * ids u32 [tokens]; table [vocab, dim]; out f32 [tokens, dim]; positions [maxPos, dim].
 */
export async function embeddingForward(
  gpu: Gpu, step: Step, s: EmbeddingShape,
  ids: GPUBuffer, table: GPUBuffer, out: GPUBuffer, positions?: GPUBuffer,
) {
  const code = DTYPE_CODE[s.dtype];
  const posCode = DTYPE_CODE[s.posDtype ?? 'f32'];
  if (code === undefined || posCode === undefined) throw new Error(`embedding: unknown dtype ${s.dtype}/${s.posDtype}`);
  const entry = positions ? 'embed_pos' : 'embed';
  const pipeline = await gpu.pipeline(withLanes(source, 1), entry, { TABLE_DTYPE: code, POS_DTYPE: posCode });
  const params = gpu.uniform([s.tokens, s.dim, s.seq ?? s.tokens, s.posStart ?? 0]);
  const buffers = positions ? [params, ids, table, out, positions] : [params, ids, table, out];
  step.dispatch(pipeline, buffers, ...grid(gpu, s.tokens));
}
