// One GPT-2 layer, forward and backward side by side (as llm.c does).
//   h   = x + attn.c_proj(attn(split(attn.c_attn(ln_1(x)))))
//   out = h + mlp.c_proj(gelu_new(mlp.c_fc(ln_2(h))))
// Conv1D weights are stored [in, out] (weightTransposed false), every linear has a bias, no rope (learned
// positions are added at the embedding). N = B·T tokens, C = hidden, I = 4C.
import type { Gpu, Step } from '../gpu/runtime';
import type { ModelConfig } from './config';
import { layernormBackward, layernormForward } from '../../kernels/norm';
import { addInto, geluBackward, geluForward } from '../../kernels/activation';
import { mergeColumns, splitColumns } from '../../kernels/model-glue';
import { ActivationSet, FrozenLinear, Scratch, attend, attendBackward, makeCache, type Block, type KvCache, type PassShape } from './layers';
import type { WeightUploader } from './weights';

export class Gpt2Block implements Block {
  private cAttn: FrozenLinear; private cProj: FrozenLinear; private cFc: FrozenLinear; private mlpProj: FrozenLinear;
  private ln1w: GPUBuffer; private ln1b: GPUBuffer; private ln2w: GPUBuffer; private ln2b: GPUBuffer; // [C] f32
  // activations kept for backward
  private ln1: GPUBuffer; private mean1: GPUBuffer; private rstd1: GPUBuffer; // [N, C], [N], [N]
  private qa: GPUBuffer; private ka: GPUBuffer; private va: GPUBuffer;      // [N, C] ×3
  private att: GPUBuffer; private lse: GPUBuffer;                           // [N, C], [B, H, T]
  private h: GPUBuffer;                                                     // [N, C]
  private ln2: GPUBuffer; private mean2: GPUBuffer; private rstd2: GPUBuffer;
  private fc: GPUBuffer; // gelu(fc) is recomputed in backward (saves N·I floats a layer)                            // [N, I] ×2
  private acts: ActivationSet;
  private cache: KvCache | null = null;
  private C: number; private I: number;

  constructor(private gpu: Gpu, private cfg: ModelConfig, private layer: number, up: WeightUploader, private scratch: Scratch, maxTokens: number) {
    const C = (this.C = cfg.hidden), I = (this.I = cfg.intermediate);
    if (cfg.heads * cfg.headDim !== C) throw new Error(`GPT-2 needs heads·headDim = hidden (${cfg.heads}·${cfg.headDim} ≠ ${C})`);
    const p = `transformer.h.${layer}`;
    const lin = (n: string, i: number, o: number) => FrozenLinear.load(up, `${p}.${n}`, i, o, { transposed: false, bias: 'yes' });
    this.cAttn = lin('attn.c_attn', C, 3 * C);
    this.cProj = lin('attn.c_proj', C, C);
    this.cFc = lin('mlp.c_fc', C, I);
    this.mlpProj = lin('mlp.c_proj', I, C);
    this.ln1w = up.vector(`${p}.ln_1.weight`, C); this.ln1b = up.vector(`${p}.ln_1.bias`, C);
    this.ln2w = up.vector(`${p}.ln_2.weight`, C); this.ln2b = up.vector(`${p}.ln_2.bias`, C);
    const N = maxTokens;
    const a = (this.acts = new ActivationSet(gpu, p));
    this.ln1 = a.make('ln1', N * C); this.mean1 = a.make('mean1', N); this.rstd1 = a.make('rstd1', N);
    this.qa = a.make('q', N * C); this.ka = a.make('k', N * C); this.va = a.make('v', N * C);
    this.att = a.make('att', N * C); this.lse = a.make('lse', N * cfg.heads);
    this.h = a.make('h', N * C);
    this.ln2 = a.make('ln2', N * C); this.mean2 = a.make('mean2', N); this.rstd2 = a.make('rstd2', N);
    this.fc = a.make('fc', N * I);
    scratch.get('tmp', N * C); scratch.get('qkv', N * 3 * C); scratch.get('dLn', N * C); scratch.get('dAtt', N * C);
    scratch.get('dq', N * C); scratch.get('dk', N * C); scratch.get('dv', N * C); scratch.get('act', N * I); scratch.get('dAct', N * I); scratch.get('dGate', N * I);
  }

  linears() { return [this.cAttn, this.cProj, this.cFc, this.mlpProj]; }
  activationBytes() { return this.acts.bytes + (this.cache ? this.cache.k.size * 2 : 0); }
  ensureCache(capacity: number) { this.cache = makeCache(this.gpu, this.cache, capacity, this.cfg.heads, this.cfg.headDim, `transformer.h.${this.layer}`); }

  async forward(step: Step, s: PassShape, x: GPUBuffer, out: GPUBuffer) {
    const gpu = this.gpu, N = s.B * s.T, C = this.C, I = this.I;
    const { heads: H, headDim: D, normEps: eps } = this.cfg;
    const tmp = this.scratch.get('tmp', N * C), qkv = this.scratch.get('qkv', N * 3 * C), gel = this.scratch.get('act', N * I);
    // attention half
    await layernormForward(gpu, step, { rows: N, dim: C, eps }, x, this.ln1w, this.ln1b, this.ln1, this.mean1, this.rstd1); // [N, C]
    await this.cAttn.forward(gpu, step, this.ln1, qkv, N, s.training); // [N, 3C]
    await splitColumns(gpu, step, { rows: N, widths: [C, C, C] }, qkv, this.qa, this.ka, this.va); // q, k, v [N, C]
    await attend(gpu, step, s, { heads: H, kvHeads: H, headDim: D }, this.cache, this.qa, this.ka, this.va, this.att, this.lse);
    await this.cProj.forward(gpu, step, this.att, tmp, N, s.training); // [N, C]
    step.copy(x, 0, this.h, 0, N * C * 4);
    await addInto(gpu, step, { n: N * C }, this.h, tmp); // h = x + attn
    // MLP half
    await layernormForward(gpu, step, { rows: N, dim: C, eps }, this.h, this.ln2w, this.ln2b, this.ln2, this.mean2, this.rstd2);
    await this.cFc.forward(gpu, step, this.ln2, this.fc, N, s.training); // [N, I]
    await geluForward(gpu, step, { n: N * I }, this.fc, gel);
    await this.mlpProj.forward(gpu, step, gel, tmp, N, s.training); // [N, C]
    step.copy(this.h, 0, out, 0, N * C * 4);
    await addInto(gpu, step, { n: N * C }, out, tmp); // out = h + mlp
  }

  async backward(step: Step, s: PassShape, x: GPUBuffer, dres: GPUBuffer, acc: boolean) {
    const gpu = this.gpu, N = s.B * s.T, C = this.C, I = this.I;
    const { heads: H, headDim: D } = this.cfg;
    const sc = this.scratch;
    const dLn = sc.get('dLn', N * C), dAtt = sc.get('dAtt', N * C), dqkv = sc.get('qkv', N * 3 * C);
    const dq = sc.get('dq', N * C), dk = sc.get('dk', N * C), dv = sc.get('dv', N * C);
    const gel = sc.get('act', N * I), dGel = sc.get('dAct', N * I), dFc = sc.get('dGate', N * I);
    // MLP half
    await geluForward(gpu, step, { n: N * I }, this.fc, gel); // recomputed: mlp.c_proj's input
    await this.mlpProj.backward(gpu, step, gel, dres, dGel, N, false, acc); // [N, I]
    await geluBackward(gpu, step, { n: N * I }, dGel, this.fc, dFc);
    await this.cFc.backward(gpu, step, this.ln2, dFc, dLn, N, false, acc); // [N, C]
    await layernormBackward(gpu, step, { rows: N, dim: C, accumulate: true }, dLn, this.h, this.ln2w, this.mean2, this.rstd2, dres); // ∂L/∂h
    // attention half
    await this.cProj.backward(gpu, step, this.att, dres, dAtt, N, false, acc);
    await attendBackward(gpu, step, s, { heads: H, kvHeads: H, headDim: D }, this.qa, this.ka, this.va, this.att, this.lse, dAtt, dq, dk, dv);
    await mergeColumns(gpu, step, { rows: N, widths: [C, C, C] }, dq, dk, dv, dqkv); // [N, 3C]
    await this.cAttn.backward(gpu, step, this.ln1, dqkv, dLn, N, false, acc);
    await layernormBackward(gpu, step, { rows: N, dim: C, accumulate: true }, dLn, x, this.ln1w, this.mean1, this.rstd1, dres); // ∂L/∂x
  }
}
