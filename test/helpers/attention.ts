// Shared by the attention test files: random inputs and GPU runs with outputs poisoned first.
import type { Gpu } from '../../src/engine/gpu/runtime';
import { attentionBackward, attentionForward, type AttentionShape, type TileOverride } from '../../src/kernels/attention';
import { POISON, randn } from './gpu';

export type Shape = Required<Pick<AttentionShape, 'batch' | 'seq' | 'heads' | 'kvHeads' | 'headDim'>>;
export const shapeName = (s: Shape) => `B${s.batch} T${s.seq} H${s.heads} KV${s.kvHeads} D${s.headDim}`;

export function attnInputs(s: Shape, seed: number) {
  const { batch: B, seq: T, heads: H, kvHeads: KV, headDim: D } = s;
  return {
    q: randn(B * T * H * D, seed, 2), // scale 2: peaked softmax rows, not near-uniform ones
    k: randn(B * T * KV * D, seed + 1, 2),
    v: randn(B * T * KV * D, seed + 2),
    dout: randn(B * T * H * D, seed + 3),
  };
}

export async function runForward(gpu: Gpu, s: AttentionShape & TileOverride, q: Float32Array, k: Float32Array, v: Float32Array) {
  const out = gpu.buffer(q.byteLength, 'out');
  const lse = gpu.buffer(s.batch * s.heads * s.seq * 4, 'lse');
  gpu.fill(out, POISON);
  gpu.fill(lse, POISON);
  const bufs = { q: gpu.buffer(q.byteLength, 'q', q), k: gpu.buffer(k.byteLength, 'k', k), v: gpu.buffer(v.byteLength, 'v', v), out, lse };
  const step = gpu.step();
  await attentionForward(gpu, step, s, bufs.q, bufs.k, bufs.v, out, lse);
  step.submit();
  return { out: await gpu.readF32(out), lse: await gpu.readF32(lse), bufs };
}

/** Forward then backward; returns both. */
export async function runBoth(gpu: Gpu, s: Shape & TileOverride, x: ReturnType<typeof attnInputs>) {
  const f = await runForward(gpu, s, x.q, x.k, x.v);
  const grads = [x.q, x.k, x.v].map((a, i) => gpu.buffer(a.byteLength, ['dq', 'dk', 'dv'][i]));
  grads.forEach((g) => gpu.fill(g, POISON));
  const step = gpu.step();
  const dout = gpu.buffer(x.dout.byteLength, 'dout', x.dout);
  await attentionBackward(gpu, step, s, f.bufs.q, f.bufs.k, f.bufs.v, f.bufs.out, f.bufs.lse, dout, grads[0], grads[1], grads[2]);
  step.submit();
  const [dq, dk, dv] = await Promise.all(grads.map((g) => gpu.readF32(g)));
  return { out: f.out, lse: f.lse, dq, dk, dv };
}
