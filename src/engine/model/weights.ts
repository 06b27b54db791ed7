// Frozen weights from a loaded checkpoint to GPU buffers: 16-bit tensors stay 16-bit (their little-endian
// bytes already ARE the packed layout the shaders read: element 2i in the low half of word i), F32 stays
// F32, and small vectors (norm weights, biases) are widened to f32 on the CPU.
import type { Gpu } from '../gpu/runtime';
import { tensorToF32 } from '../io/peft';

/** The part of io's TensorData the model reads. */
export interface TensorLike {
  dtype: string;
  shape: number[];
  data: Uint8Array;
}

export type WeightType = 'f32' | 'f16' | 'bf16';

export function weightType(dtype: string): WeightType {
  switch (dtype) {
    case 'F32':
      return 'f32';
    case 'F16':
      return 'f16';
    case 'BF16':
      return 'bf16';
    default:
      throw new Error(`unsupported weight dtype ${dtype} (expected F32, F16 or BF16)`);
  }
}

/** Finds a tensor under its name, tolerating a GPT-2 `transformer.` prefix present on one side only. */
export class WeightSource {
  constructor(private tensors: Map<string, TensorLike>) {}

  find(name: string): TensorLike | undefined {
    const t = this.tensors.get(name);
    if (t) return t;
    if (name.startsWith('transformer.')) return this.tensors.get(name.slice('transformer.'.length));
    return this.tensors.get('transformer.' + name);
  }

  get(name: string, shape?: number[]): TensorLike {
    const t = this.find(name);
    if (!t) throw new Error(`checkpoint has no tensor ${name}`);
    if (shape && (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])))
      throw new Error(`tensor ${name} has shape [${t.shape}], expected [${shape}]`);
    return t;
  }
}

/** Uploads frozen weights and counts their bytes. */
export class WeightUploader {
  bytes = 0;
  constructor(private gpu: Gpu, readonly src: WeightSource) {}

  /** A matrix as stored: 16-bit packed or f32. */
  matrix(name: string, shape: number[]): { buffer: GPUBuffer; type: WeightType } {
    const t = this.src.get(name, shape);
    const type = weightType(t.dtype);
    const buffer = this.gpu.buffer(t.data.byteLength, name);
    // copy: writeBuffer needs a 4-byte aligned source offset, and a view into a shard may not be
    this.gpu.upload(buffer, t.data.byteOffset % 4 === 0 ? t.data : t.data.slice());
    this.bytes += buffer.size;
    return { buffer, type };
  }

  /** A vector (norm weight, bias) widened to f32. */
  vector(name: string, length: number): GPUBuffer {
    const values = tensorToF32(this.src.get(name, [length]) as any, name);
    this.bytes += values.byteLength;
    return this.gpu.buffer(values.byteLength, name, values);
  }

  optionalVector(name: string, length: number): GPUBuffer | null {
    return this.src.find(name) ? this.vector(name, length) : null;
  }
}
