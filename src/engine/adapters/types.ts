// The contract between the model and every adapter method (LoRA, rsLoRA, DoRA, VeRA, ...): the model
// owns the frozen linear layers and calls into one AdapterModule per adapted layer, in forward and
// backward, the way PEFT's LoraVariant hooks into a base layer.
import type { Gpu, Step } from '../gpu/runtime';

/** One adapted linear layer's view, given to an adapter module. */
export interface LinearInfo {
  /** HF module path, e.g. model.layers.0.self_attn.q_proj or transformer.h.0.attn.c_attn */
  name: string;
  /** last path component, e.g. q_proj */
  shortName: string;
  inDim: number;
  outDim: number;
  /** frozen W₀, packed 16-bit (two per u32) or f32 */
  weight: GPUBuffer;
  weightType: 'f32' | 'f16' | 'bf16';
  /** true for a PyTorch Linear [out, in]; false for a GPT-2 Conv1D [in, out] */
  weightTransposed: boolean;
}

export interface AdapterParam {
  /** PEFT key suffix, e.g. lora_A.weight */
  name: string;
  shape: number[];
  buffer: GPUBuffer;
  /** null = frozen */
  grad: GPUBuffer | null;
  /** optimizer group, e.g. 'A' | 'B' | 'other' */
  group?: string;
}

export interface AdapterModule {
  params(): AdapterParam[];
  /** y [tokens, out] holds x·W₀ᵀ (no bias yet); the module adds to / changes y. It may save activations for backward. */
  forward(gpu: Gpu, step: Step, x: GPUBuffer /* [tokens, in] */, y: GPUBuffer, tokens: number, training: boolean): Promise<void>;
  /**
   * Called BEFORE the base path's dx = dy·W₀. Adds its own contribution into dx [tokens, in] (dx is zero or holds
   * other terms: ADD), writes param grads (overwrite on the first micro-batch, ADD when accumulate=true), and returns
   * the buffer the base path must use instead of dy (usually dy itself; DoRA returns (m/n)⊙dy).
   */
  backward(gpu: Gpu, step: Step, x: GPUBuffer, dy: GPUBuffer, dx: GPUBuffer, tokens: number, accumulate: boolean): Promise<GPUBuffer>;
}

export type AdapterFactory = (gpu: Gpu, layer: LinearInfo, maxTokens: number) => AdapterModule;
