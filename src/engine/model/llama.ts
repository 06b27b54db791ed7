// One Llama / Qwen2 decoder layer, forward and backward side by side (as llm.c does).
//   h   = x + o_proj(attn(rope(q_proj(rms1(x))), rope(k_proj(rms1(x))), v_proj(rms1(x))))
//   out = h + down_proj(silu(gate_proj(rms2(h))) · up_proj(rms2(h)))
// Qwen2 adds biases to q, k, v (loaded when present). N = B·T tokens, C = hidden, H·D query width,
// KV·D key/value width (grouped-query attention), I = intermediate.
import type { Gpu, Step } from '../gpu/runtime';
import type { ModelConfig } from './config';
import { rmsnormBackward, rmsnormForward } from '../../kernels/norm';
import { rope } from '../../kernels/rope';
import { addInto, swigluBackward, swigluForward } from '../../kernels/activation';
import { ActivationSet, FrozenLinear, Scratch, attend, attendBackward, makeCache, type Block, type KvCache, type PassShape } from './layers';
import type { WeightUploader } from './weights';

export class LlamaBlock implements Block {
  private q: FrozenLinear; private k: FrozenLinear; private v: FrozenLinear; private o: FrozenLinear;
  private gate: FrozenLinear; private up: FrozenLinear; private down: FrozenLinear;
  private norm1: GPUBuffer; private norm2: GPUBuffer; // [C] f32
  // activations kept for backward
  private ln1: GPUBuffer; private rstd1: GPUBuffer;          // [N, C], [N]
  private qa: GPUBuffer; private ka: GPUBuffer; private va: GPUBuffer; // [N, H·D], [N, KV·D] ×2 (q, k after rope)
  private att: GPUBuffer; private lse: GPUBuffer;            // [N, H·D], [B, H, T]
  private h: GPUBuffer;                                      // [N, C] residual after attention
  private ln2: GPUBuffer; private rstd2: GPUBuffer;          // [N, C], [N]
  private g: GPUBuffer; private u: GPUBuffer; // [N, I] ×2 (silu(g)·u is recomputed in backward: saves N·I floats a layer)
  private acts: ActivationSet;
  private cache: KvCache | null = null;
  private C: number; private HD: number; private KVD: number; private I: number;

  constructor(private gpu: Gpu, private cfg: ModelConfig, private layer: number, up: WeightUploader, private scratch: Scratch, private ropeTable: GPUBuffer, maxTokens: number) {
    const { hidden: C, heads: H, kvHeads: KV, headDim: D, intermediate: I } = cfg;
    this.C = C; this.HD = H * D; this.KVD = KV * D; this.I = I;
    const p = `model.layers.${layer}`;
    const lin = (n: string, i: number, o: number) => FrozenLinear.load(up, `${p}.${n}`, i, o, { transposed: true, bias: 'if-present' });
    this.q = lin('self_attn.q_proj', C, this.HD);
    this.k = lin('self_attn.k_proj', C, this.KVD);
    this.v = lin('self_attn.v_proj', C, this.KVD);
    this.o = lin('self_attn.o_proj', this.HD, C);
    this.gate = lin('mlp.gate_proj', C, I);
    this.up = lin('mlp.up_proj', C, I);
    this.down = lin('mlp.down_proj', I, C);
    this.norm1 = up.vector(`${p}.input_layernorm.weight`, C);
    this.norm2 = up.vector(`${p}.post_attention_layernorm.weight`, C);
    const N = maxTokens;
    const a = (this.acts = new ActivationSet(gpu, p));
    this.ln1 = a.make('ln1', N * C); this.rstd1 = a.make('rstd1', N);
    this.qa = a.make('q', N * this.HD); this.ka = a.make('k', N * this.KVD); this.va = a.make('v', N * this.KVD);
    this.att = a.make('att', N * this.HD); this.lse = a.make('lse', N * H);
    this.h = a.make('h', N * C);
    this.ln2 = a.make('ln2', N * C); this.rstd2 = a.make('rstd2', N);
    this.g = a.make('gate', N * I); this.u = a.make('up', N * I);
    // scratch used by forward (tmp) and backward (gradients of intermediates), sized once for all layers
    scratch.get('tmp', N * C); scratch.get('dLn', N * C); scratch.get('dAtt', N * this.HD);
    scratch.get('dq', N * this.HD); scratch.get('dk', N * this.KVD); scratch.get('dv', N * this.KVD);
    scratch.get('act', N * I); scratch.get('dAct', N * I); scratch.get('dGate', N * I); scratch.get('dUp', N * I);
  }

  linears() { return [this.q, this.k, this.v, this.o, this.gate, this.up, this.down]; }
  activationBytes() { return this.acts.bytes + (this.cache ? this.cache.k.size * 2 : 0); }
  ensureCache(capacity: number) { this.cache = makeCache(this.gpu, this.cache, capacity, this.cfg.kvHeads, this.cfg.headDim, `model.layers.${this.layer}`); }

  async forward(step: Step, s: PassShape, x: GPUBuffer, out: GPUBuffer) {
    const gpu = this.gpu, N = s.B * s.T, C = this.C, I = this.I;
    const { heads: H, kvHeads: KV, headDim: D, normEps: eps } = this.cfg;
    const tmp = this.scratch.get('tmp', N * C), act = this.scratch.get('act', N * I);
    // attention half
    await rmsnormForward(gpu, step, { rows: N, dim: C, eps }, x, this.norm1, this.ln1, this.rstd1); // [N, C]
    await this.q.forward(gpu, step, this.ln1, this.qa, N, s.training); // [N, H·D]
    await this.k.forward(gpu, step, this.ln1, this.ka, N, s.training); // [N, KV·D]
    await this.v.forward(gpu, step, this.ln1, this.va, N, s.training); // [N, KV·D]
    await rope(gpu, step, { batch: s.B, seq: s.T, heads: H, headDim: D, posStart: s.posStart }, this.qa, this.ropeTable);
    await rope(gpu, step, { batch: s.B, seq: s.T, heads: KV, headDim: D, posStart: s.posStart }, this.ka, this.ropeTable);
    await attend(gpu, step, s, { heads: H, kvHeads: KV, headDim: D }, this.cache, this.qa, this.ka, this.va, this.att, this.lse); // [N, H·D]
    await this.o.forward(gpu, step, this.att, tmp, N, s.training); // [N, C]
    step.copy(x, 0, this.h, 0, N * C * 4);
    await addInto(gpu, step, { n: N * C }, this.h, tmp); // h = x + o
    // MLP half
    await rmsnormForward(gpu, step, { rows: N, dim: C, eps }, this.h, this.norm2, this.ln2, this.rstd2);
    await this.gate.forward(gpu, step, this.ln2, this.g, N, s.training); // [N, I]
    await this.up.forward(gpu, step, this.ln2, this.u, N, s.training); // [N, I]
    await swigluForward(gpu, step, { n: N * I }, this.g, this.u, act); // silu(g)·u
    await this.down.forward(gpu, step, act, tmp, N, s.training); // [N, C]
    step.copy(this.h, 0, out, 0, N * C * 4);
    await addInto(gpu, step, { n: N * C }, out, tmp); // out = h + down
  }

  async backward(step: Step, s: PassShape, x: GPUBuffer, dres: GPUBuffer, acc: boolean) {
    const gpu = this.gpu, N = s.B * s.T, C = this.C, I = this.I;
    const { heads: H, kvHeads: KV, headDim: D } = this.cfg;
    const sc = this.scratch;
    const dLn = sc.get('dLn', N * C), dAtt = sc.get('dAtt', N * this.HD);
    const dq = sc.get('dq', N * this.HD), dk = sc.get('dk', N * this.KVD), dv = sc.get('dv', N * this.KVD);
    const act = sc.get('act', N * I), dAct = sc.get('dAct', N * I), dGate = sc.get('dGate', N * I), dUp = sc.get('dUp', N * I);
    // MLP half: dres = ∂L/∂out, and ∂L/∂h = dres + rms2ᵀ(gateᵀ, upᵀ(swigluᵀ(downᵀ dres)))
    await swigluForward(gpu, step, { n: N * I }, this.g, this.u, act); // recomputed: down_proj's input
    await this.down.backward(gpu, step, act, dres, dAct, N, false, acc); // [N, I]
    await swigluBackward(gpu, step, { n: N * I }, dAct, this.g, this.u, dGate, dUp);
    await this.gate.backward(gpu, step, this.ln2, dGate, dLn, N, false, acc); // [N, C]
    await this.up.backward(gpu, step, this.ln2, dUp, dLn, N, true, acc);
    await rmsnormBackward(gpu, step, { rows: N, dim: C, accumulate: true }, dLn, this.h, this.norm2, this.rstd2, dres); // dres = ∂L/∂h
    // attention half
    await this.o.backward(gpu, step, this.att, dres, dAtt, N, false, acc); // [N, H·D]
    await attendBackward(gpu, step, s, { heads: H, kvHeads: KV, headDim: D }, this.qa, this.ka, this.va, this.att, this.lse, dAtt, dq, dk, dv);
    await rope(gpu, step, { batch: s.B, seq: s.T, heads: H, headDim: D, posStart: s.posStart, inverse: true }, dq, this.ropeTable);
    await rope(gpu, step, { batch: s.B, seq: s.T, heads: KV, headDim: D, posStart: s.posStart, inverse: true }, dk, this.ropeTable);
    await this.q.backward(gpu, step, this.ln1, dq, dLn, N, false, acc); // [N, C]
    await this.k.backward(gpu, step, this.ln1, dk, dLn, N, true, acc);
    await this.v.backward(gpu, step, this.ln1, dv, dLn, N, true, acc);
    await rmsnormBackward(gpu, step, { rows: N, dim: C, accumulate: true }, dLn, x, this.norm1, this.rstd1, dres); // dres = ∂L/∂x
  }
}
