// Building blocks shared by the Llama/Qwen2 and GPT-2 blocks: a frozen linear layer with an optional adapter
// and bias, the attention call (plain or over a KV cache), and a pool of scratch buffers that live only
// within one layer's forward or backward (gradients of intermediate tensors), shared by all layers.
import type { Gpu, Step } from '../gpu/runtime';
import type { AdapterModule, LinearInfo } from '../adapters/types';
import { matmul } from '../../kernels/matmul';
import { biasAdd } from '../../kernels/activation';
import { attentionBackward, attentionForward } from '../../kernels/attention';
import type { WeightUploader } from './weights';

/** Shape of one recorded pass: B sequences of T new tokens starting at position posStart. */
export interface PassShape {
  B: number;
  T: number;
  /** position of the first token (non-zero only when decoding with a KV cache) */
  posStart: number;
  /** adapters may save activations for backward */
  training: boolean;
  /** attend over the block's KV cache (B = 1): k, v of these T tokens are written at rows posStart.. first */
  useCache: boolean;
}

/**
 * y = x·W₀ᵀ (+ adapter) (+ b). W₀ frozen, stored [out, in] (PyTorch Linear) or [in, out] (GPT-2 Conv1D),
 * 16-bit packed or f32. Only the adapter's parameters get gradients.
 */
export class FrozenLinear {
  adapter: AdapterModule | null = null;

  constructor(
    readonly info: LinearInfo,
    readonly bias: GPUBuffer | null,
  ) {}

  static load(up: WeightUploader, name: string, inDim: number, outDim: number, opts: { transposed: boolean; bias: 'yes' | 'no' | 'if-present' }): FrozenLinear {
    const shape = opts.transposed ? [outDim, inDim] : [inDim, outDim];
    const { buffer, type } = up.matrix(`${name}.weight`, shape);
    const bias = opts.bias === 'yes' ? up.vector(`${name}.bias`, outDim) : opts.bias === 'if-present' ? up.optionalVector(`${name}.bias`, outDim) : null;
    const shortName = name.slice(name.lastIndexOf('.') + 1);
    return new FrozenLinear({ name, shortName, inDim, outDim, weight: buffer, weightType: type, weightTransposed: opts.transposed }, bias);
  }

  // forward: y [T, out] = x [T, in] · W₀ᵀ, then the adapter, then the bias
  async forward(gpu: Gpu, step: Step, x: GPUBuffer, y: GPUBuffer, tokens: number, training: boolean) {
    const { inDim, outDim, weight, weightType, weightTransposed } = this.info;
    await matmul(gpu, step, { M: tokens, N: outDim, K: inDim, transB: weightTransposed, bType: weightType }, x, weight, y);
    if (this.adapter) await this.adapter.forward(gpu, step, x, y, tokens, training);
    if (this.bias) await biasAdd(gpu, step, { rows: tokens, cols: outDim }, y, this.bias);
  }

  // backward: dx [T, in] (+)= dy [T, out] · W₀ (+ the adapter's own dx term); adapter grads (+)= per accumulateGrads.
  // The adapter runs first and may hand back a different dy for the base path (DoRA).
  async backward(gpu: Gpu, step: Step, x: GPUBuffer, dy: GPUBuffer, dx: GPUBuffer, tokens: number, accumulateDx: boolean, accumulateGrads: boolean) {
    const { inDim, outDim, weight, weightType, weightTransposed } = this.info;
    let dyBase = dy;
    if (this.adapter) {
      if (!accumulateDx) step.clear(dx, 0, tokens * inDim * 4);
      dyBase = await this.adapter.backward(gpu, step, x, dy, dx, tokens, accumulateGrads);
      accumulateDx = true;
    }
    await matmul(gpu, step, { M: tokens, N: inDim, K: outDim, transB: !weightTransposed, bType: weightType, accumulate: accumulateDx }, dyBase, weight, dx);
  }
}

/** Scratch buffers by name, grown on demand, shared by every layer (their contents never outlive one layer). */
export class Scratch {
  private buffers = new Map<string, GPUBuffer>();
  constructor(private gpu: Gpu) {}

  get(name: string, floats: number): GPUBuffer {
    const b = this.buffers.get(name);
    if (b && b.size >= floats * 4) return b;
    // never destroyed here: a recorded, unsubmitted step may still refer to the old one
    const nb = this.gpu.buffer(floats * 4, `scratch ${name}`);
    this.buffers.set(name, nb);
    return nb;
  }

  bytes(): number {
    let n = 0;
    for (const b of this.buffers.values()) n += b.size;
    return n;
  }
}

/** Per-layer KV cache for decoding (B = 1): k, v [capacity, KV, D]. */
export interface KvCache {
  k: GPUBuffer;
  v: GPUBuffer;
  capacity: number;
}

export interface AttentionDims {
  heads: number;
  kvHeads: number;
  headDim: number;
}

/**
 * out [B, T, H, D] = causal softmax(q·kᵀ/√D)·v, lse [B, H, T] saved for backward.
 * With a cache: this pass's k, v rows are copied in at posStart first, then q attends to all posStart+T cached rows.
 */
export async function attend(gpu: Gpu, step: Step, s: PassShape, d: AttentionDims, cache: KvCache | null, q: GPUBuffer, k: GPUBuffer, v: GPUBuffer, out: GPUBuffer, lse: GPUBuffer) {
  const shape = { batch: s.B, seq: s.T, heads: d.heads, kvHeads: d.kvHeads, headDim: d.headDim };
  if (!s.useCache) return attentionForward(gpu, step, shape, q, k, v, out, lse);
  if (!cache || s.B !== 1) throw new Error('KV-cache attention needs a cache and batch 1');
  if (s.posStart + s.T > cache.capacity) throw new Error(`KV cache holds ${cache.capacity} positions, needs ${s.posStart + s.T}`);
  const row = d.kvHeads * d.headDim * 4;
  step.copy(k, 0, cache.k, s.posStart * row, s.T * row);
  step.copy(v, 0, cache.v, s.posStart * row, s.T * row);
  await attentionForward(gpu, step, { ...shape, kvSeq: s.posStart + s.T, posStart: s.posStart }, q, cache.k, cache.v, out, lse);
}

export async function attendBackward(gpu: Gpu, step: Step, s: PassShape, d: AttentionDims, q: GPUBuffer, k: GPUBuffer, v: GPUBuffer, out: GPUBuffer, lse: GPUBuffer, dout: GPUBuffer, dq: GPUBuffer, dk: GPUBuffer, dv: GPUBuffer) {
  await attentionBackward(gpu, step, { batch: s.B, seq: s.T, heads: d.heads, kvHeads: d.kvHeads, headDim: d.headDim }, q, k, v, out, lse, dout, dq, dk, dv);
}

/** A transformer block: forward and backward of one layer over the residual stream. */
export interface Block {
  /** every frozen linear that can take an adapter */
  linears(): FrozenLinear[];
  /** x [N, C] (the residual stream entering the layer) → out [N, C] */
  forward(step: Step, s: PassShape, x: GPUBuffer, out: GPUBuffer): Promise<void>;
  /** dres [N, C]: gradient w.r.t. out on entry, w.r.t. x on return (updated in place). x is the same input as forward's. */
  backward(step: Step, s: PassShape, x: GPUBuffer, dres: GPUBuffer, accumulateGrads: boolean): Promise<void>;
  /** (re)allocates the KV cache for decoding */
  ensureCache(capacity: number): void;
  activationBytes(): number;
}

/** Allocates named activation buffers of one block and counts their bytes. */
export class ActivationSet {
  bytes = 0;
  constructor(private gpu: Gpu, private prefix: string) {}
  make(name: string, floats: number): GPUBuffer {
    const b = this.gpu.buffer(floats * 4, `${this.prefix}.${name}`);
    this.bytes += b.size;
    return b;
  }
}

export function makeCache(gpu: Gpu, prev: KvCache | null, capacity: number, kvHeads: number, headDim: number, label: string): KvCache {
  if (prev && prev.capacity >= capacity) return prev;
  prev?.k.destroy();
  prev?.v.destroy();
  const floats = capacity * kvHeads * headDim;
  return { k: gpu.buffer(floats * 4, `${label}.kcache`), v: gpu.buffer(floats * 4, `${label}.vcache`), capacity };
}
