// A causal language model on the GPU (Llama, Qwen2, GPT-2): frozen weights, per-layer activations for backward,
// adapters hooked into every adaptable linear, the LM head + cross-entropy in row chunks (no [B, T, V] logits
// kept), and generation with a KV cache.
//
//   ids [B, T] → embed (+ learned positions for GPT-2) → res₀ → block₀ → res₁ → … → res_L → final norm → hf
//   hf [N, C] · Eᵀ → logits (one chunk of rows at a time) → cross-entropy → dlogits · E → dhf → backward
import type { Gpu, Step } from '../gpu/runtime';
import type { AdapterModule, LinearInfo } from '../adapters/types';
import type { ModelConfig } from './config';
import { matmul } from '../../kernels/matmul';
import { embeddingForward } from '../../kernels/embedding';
import { layernormBackward, layernormForward, rmsnormBackward, rmsnormForward } from '../../kernels/norm';
import { ropeTable } from '../../kernels/rope';
import { crossEntropy, reduceSum } from '../../kernels/loss';
import { FrozenLinear, Scratch, type Block, type PassShape } from './layers';
import { LlamaBlock } from './llama';
import { Gpt2Block } from './gpt2';
import { WeightSource, WeightUploader, type TensorLike, type WeightType } from './weights';
import { sampleToken } from './sampling';
import { seededRandom } from '../adapters/lora';

/** What the model reads from io's loadModelFiles result. */
export interface ModelFilesLike<Tok = any> {
  modelConfig: ModelConfig;
  tensors: Map<string, TensorLike>;
  tokenizer?: Tok;
}

export interface GenerateOptions {
  maxNewTokens: number;
  greedy?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  /** stop after emitting one of these (default: the config's eos ids) */
  eosTokenIds?: number[];
}

/**
 * Logit chunks hold at most this many bytes (and no more than the device lets one storage binding hold):
 * chunk rows = floor(256 MiB / (V·4)), rounded down to a multiple of 64 (the matmul's row tile). Wide chunks keep the
 * LM head's two products efficient: at 110 rows (64 MiB, Qwen2.5's 151,936-token vocabulary) dh = dlogits·E ran at
 * 17 TFLOP/s and the cross-entropy had one workgroup per row on 110 of 132 SMs; at 384 rows both are 1.5-3× faster
 * per row (H200, bench/profile.ts).
 */
const LOGIT_CHUNK_BYTES = 256 * 1024 * 1024;
/** micro-batches that may be recorded into one step before it is submitted */
const STAGING_SLOTS = 64;

export class CausalLM {
  config!: ModelConfig;
  tokenizer: any;
  /** Σ over recorded micro-batches of Σ_rows CE·lossScale. f32[1]; the trainer clears and reads it. */
  lossSum!: GPUBuffer;
  readonly maxTokens: number;

  private blocks: Block[] = [];
  private res: GPUBuffer[] = []; // L+1 residual streams [N, C]: res[l] enters block l
  private embed!: { buffer: GPUBuffer; type: WeightType }; // [V, C]
  private wpe: { buffer: GPUBuffer; type: WeightType } | null = null; // GPT-2 [maxPos, C]
  private head!: { buffer: GPUBuffer; type: WeightType }; // [V, C], the embedding itself when tied
  private normW!: GPUBuffer; private normB: GPUBuffer | null = null; // final norm [C]
  private hf!: GPUBuffer; private fMean!: GPUBuffer; private fRstd!: GPUBuffer; // final norm out [N, C], stats [N]
  private ids!: GPUBuffer; private labels!: GPUBuffer; private scaleBuf!: GPUBuffer; // u32 [N], i32 [N], f32[1]
  private chunkRows!: number;
  private logitsChunk!: GPUBuffer; private rowLoss!: GPUBuffer; // [R, V], [R]
  private hChunk!: GPUBuffer; private dhChunk!: GPUBuffer; private labelChunk!: GPUBuffer; // [R, C], [R, C], [R]
  private dres!: GPUBuffer; private dhf!: GPUBuffer; // [N, C]
  private scratch: Scratch;
  private rope: GPUBuffer | null = null;
  private ropeLength = 0;
  private frozen = 0;
  private batch: { B: number; T: number; slot: GPUBuffer } | null = null;
  private staging: GPUBuffer[] = [];
  private stagingNext = 0;
  private linearsByName = new Map<string, FrozenLinear>();

  private constructor(private gpu: Gpu, maxTokens: number) {
    this.maxTokens = maxTokens;
    this.scratch = new Scratch(gpu);
  }

  static async load(gpu: Gpu, files: ModelFilesLike, opts: { maxBatch: number; maxSeq: number; /** cap on one logits chunk (tests) */ logitChunkBytes?: number }): Promise<CausalLM> {
    const N = opts.maxBatch * opts.maxSeq;
    const m = new CausalLM(gpu, N);
    const cfg = (m.config = files.modelConfig);
    m.tokenizer = files.tokenizer;
    const { hidden: C, vocabSize: V } = cfg;
    const up = new WeightUploader(gpu, new WeightSource(files.tensors));
    const gpt2 = cfg.arch === 'gpt2';
    m.embed = up.matrix(gpt2 ? 'transformer.wte.weight' : 'model.embed_tokens.weight', [V, C]);
    if (gpt2) m.wpe = up.matrix('transformer.wpe.weight', [cfg.maxPositions, C]);
    if (!gpt2) {
      // rope table long enough for training and for generation up to the model's context (capped)
      m.ropeLength = Math.min(cfg.maxPositions, Math.max(opts.maxSeq, 4096));
      const table = ropeTable(cfg.headDim, m.ropeLength, cfg.ropeTheta, cfg.ropeScaling);
      m.rope = gpu.buffer(table.byteLength, 'rope table', table);
    } else m.ropeLength = cfg.maxPositions;
    for (let l = 0; l < cfg.layers; l++)
      m.blocks.push(gpt2 ? new Gpt2Block(gpu, cfg, l, up, m.scratch, N) : new LlamaBlock(gpu, cfg, l, up, m.scratch, m.rope!, N));
    m.normW = up.vector(gpt2 ? 'transformer.ln_f.weight' : 'model.norm.weight', C);
    if (gpt2) m.normB = up.vector('transformer.ln_f.bias', C);
    const untiedHead = up.src.find('lm_head.weight');
    m.head = cfg.tieEmbeddings || !untiedHead ? m.embed : up.matrix('lm_head.weight', [V, C]);
    if (!cfg.tieEmbeddings && !untiedHead) throw new Error('config says tie_word_embeddings=false but the checkpoint has no lm_head.weight');
    m.frozen = up.bytes;
    for (const b of m.blocks) for (const lin of b.linears()) m.linearsByName.set(lin.info.name, lin);

    for (let l = 0; l <= cfg.layers; l++) m.res.push(gpu.buffer(N * C * 4, `res${l}`));
    m.hf = gpu.buffer(N * C * 4, 'final norm');
    m.fMean = gpu.buffer(N * 4, 'final mean');
    m.fRstd = gpu.buffer(N * 4, 'final rstd');
    m.dres = gpu.buffer(N * C * 4, 'dres');
    m.dhf = gpu.buffer(N * C * 4, 'd final norm');
    m.ids = gpu.buffer(N * 4, 'ids');
    m.labels = gpu.buffer(N * 4, 'labels');
    m.scaleBuf = gpu.buffer(4, 'loss scale');
    m.lossSum = gpu.buffer(4, 'loss sum', new Float32Array(1));
    const lim = gpu.info.limits;
    const chunkBytes = Math.min(opts.logitChunkBytes ?? LOGIT_CHUNK_BYTES, lim.maxStorageBufferBindingSize ?? Infinity, lim.maxBufferSize ?? Infinity);
    let rows = Math.floor(chunkBytes / (V * 4));
    if (rows >= 128) rows -= rows % 64;
    m.chunkRows = Math.max(1, Math.min(N, rows));
    const R = m.chunkRows;
    m.logitsChunk = gpu.buffer(R * V * 4, 'logits chunk');
    m.rowLoss = gpu.buffer(R * 4, 'row loss');
    m.hChunk = gpu.buffer(R * C * 4, 'h chunk');
    m.dhChunk = gpu.buffer(R * C * 4, 'dh chunk');
    m.labelChunk = gpu.buffer(R * 4, 'label chunk');
    return m;
  }

  linearLayers(): LinearInfo[] {
    return [...this.linearsByName.values()].map((l) => l.info);
  }

  setAdapters(modules: Map<string, AdapterModule>): void {
    for (const name of modules.keys()) if (!this.linearsByName.has(name)) throw new Error(`setAdapters: this model has no linear layer ${name}`);
    for (const [name, lin] of this.linearsByName) lin.adapter = modules.get(name) ?? null;
  }

  /**
   * Stages a micro-batch. The data goes into its own staging slot (a ring of STAGING_SLOTS) and record() copies it
   * into place inside the step, so several micro-batches may be recorded into one step before a single submit.
   */
  uploadBatch(batch: { ids: Uint32Array; labels: Int32Array; B: number; T: number; lossScale: number }): void {
    const N = batch.B * batch.T;
    if (N > this.maxTokens) throw new Error(`batch of ${batch.B}×${batch.T} tokens exceeds the model's maxBatch·maxSeq = ${this.maxTokens}`);
    if (batch.ids.length !== N || batch.labels.length !== N) throw new Error(`batch ids/labels must hold B·T = ${N} values`);
    const k = this.stagingNext++ % STAGING_SLOTS;
    // one buffer per slot: [ids u32 ×maxTokens | labels i32 ×maxTokens | scale f32]
    const slot = (this.staging[k] ??= this.gpu.buffer((2 * this.maxTokens + 1) * 4, `batch staging ${k}`));
    this.gpu.upload(slot, batch.ids, 0);
    this.gpu.upload(slot, batch.labels, this.maxTokens * 4);
    this.gpu.upload(slot, new Float32Array([batch.lossScale]), 2 * this.maxTokens * 4);
    this.batch = { B: batch.B, T: batch.T, slot };
  }

  /** Forward, loss (added into lossSum), and backward when asked, for the micro-batch uploaded last. */
  async record(step: Step, opts: { backward: boolean; accumulate: boolean }): Promise<void> {
    if (!this.batch) throw new Error('record: uploadBatch first');
    const { B, T, slot } = this.batch;
    const N = B * T;
    step.copy(slot, 0, this.ids, 0, N * 4);
    step.copy(slot, this.maxTokens * 4, this.labels, 0, N * 4);
    step.copy(slot, 2 * this.maxTokens * 4, this.scaleBuf, 0, 4);
    const s: PassShape = { B, T, posStart: 0, training: opts.backward, useCache: false };
    await this.forward(step, s);
    await this.headAndLoss(step, s, opts.backward);
    if (!opts.backward) return;
    await this.finalNormBackward(step, s);
    for (let l = this.blocks.length - 1; l >= 0; l--) await this.blocks[l].backward(step, s, this.res[l], this.dres, opts.accumulate);
  }

  // forward: ids → res_L → hf = norm(res_L)   [N, C]
  private async forward(step: Step, s: PassShape) {
    const gpu = this.gpu, cfg = this.config, N = s.B * s.T, C = cfg.hidden;
    await this.embedAndBlocks(step, s);
    const x = this.res[this.blocks.length];
    if (cfg.norm === 'layer') await layernormForward(gpu, step, { rows: N, dim: C, eps: cfg.normEps }, x, this.normW, this.normB!, this.hf, this.fMean, this.fRstd);
    else await rmsnormForward(gpu, step, { rows: N, dim: C, eps: cfg.normEps }, x, this.normW, this.hf, this.fRstd);
  }

  // ids [N] → embedding (+ positions) → res_0 → blocks → res_L   [N, C]
  private async embedAndBlocks(step: Step, s: PassShape) {
    const gpu = this.gpu, cfg = this.config, N = s.B * s.T, C = cfg.hidden;
    await embeddingForward(
      gpu, step,
      { tokens: N, dim: C, dtype: this.embed.type, seq: s.T, posDtype: this.wpe?.type, posStart: s.posStart },
      this.ids, this.embed.buffer, this.res[0], this.wpe?.buffer,
    );
    for (let l = 0; l < this.blocks.length; l++) await this.blocks[l].forward(step, s, this.res[l], this.res[l + 1]);
  }

  // backward of the final norm: dres = normᵀ(dhf)   [N, C]
  private async finalNormBackward(step: Step, s: PassShape) {
    const gpu = this.gpu, cfg = this.config, N = s.B * s.T, C = cfg.hidden;
    const x = this.res[this.blocks.length];
    if (cfg.norm === 'layer') await layernormBackward(gpu, step, { rows: N, dim: C }, this.dhf, x, this.normW, this.fMean, this.fRstd, this.dres);
    else await rmsnormBackward(gpu, step, { rows: N, dim: C }, this.dhf, x, this.normW, this.fRstd, this.dres);
  }

  // LM head + cross-entropy, R rows at a time:
  //   logits [R, V] = hf[r0:r0+R] · Eᵀ;  lossSum += Σ scale·CE;  logits ← dlogits (in place);  dhf[r0:] = dlogits · E
  private async headAndLoss(step: Step, s: PassShape, backward: boolean) {
    const gpu = this.gpu, N = s.B * s.T, C = this.config.hidden, V = this.config.vocabSize;
    const R = this.chunkRows;
    const single = N <= R; // one chunk: work on the full buffers, no copies
    for (let r0 = 0; r0 < N; r0 += R) {
      const rows = Math.min(R, N - r0);
      const h = single ? this.hf : this.hChunk;
      const labels = single ? this.labels : this.labelChunk;
      const dh = single ? this.dhf : this.dhChunk;
      if (!single) {
        step.copy(this.hf, r0 * C * 4, this.hChunk, 0, rows * C * 4);
        step.copy(this.labels, r0 * 4, this.labelChunk, 0, rows * 4);
      }
      await matmul(gpu, step, { M: rows, N: V, K: C, transB: true, bType: this.head.type }, h, this.head.buffer, this.logitsChunk);
      await crossEntropy(gpu, step, { rows, vocab: V }, this.logitsChunk, labels, this.scaleBuf, this.rowLoss);
      await reduceSum(gpu, step, { n: rows, accumulate: true }, this.rowLoss, this.lossSum);
      if (!backward) continue;
      await matmul(gpu, step, { M: rows, N: C, K: V, transB: false, bType: this.head.type }, this.logitsChunk, this.head.buffer, dh);
      if (!single) step.copy(this.dhChunk, 0, this.dhf, r0 * C * 4, rows * C * 4);
    }
  }

  /** Logits [B, T, V] of a whole batch (tests and evaluation of small models: allocates N·V floats). */
  async logits(ids: Uint32Array, B: number, T: number): Promise<Float32Array> {
    const gpu = this.gpu, N = B * T, C = this.config.hidden, V = this.config.vocabSize;
    if (N > this.maxTokens) throw new Error(`logits: ${N} tokens exceed maxBatch·maxSeq = ${this.maxTokens}`);
    gpu.upload(this.ids, ids);
    const out = gpu.buffer(N * V * 4, 'logits');
    const step = gpu.step('logits');
    await this.forward(step, { B, T, posStart: 0, training: false, useCache: false });
    await matmul(gpu, step, { M: N, N: V, K: C, transB: true, bType: this.head.type }, this.hf, this.head.buffer, out);
    step.submit();
    const result = await gpu.readF32(out, N * V);
    out.destroy();
    return result;
  }

  /** Greedy or sampled continuation of one prompt with a KV cache; returns the new ids only (eos included when hit). */
  async generate(promptIds: number[], opts: GenerateOptions): Promise<number[]> {
    const gpu = this.gpu, cfg = this.config, C = cfg.hidden, V = cfg.vocabSize;
    const P = promptIds.length;
    if (P === 0) throw new Error('generate: empty prompt');
    if (P > this.maxTokens) throw new Error(`generate: prompt of ${P} tokens exceeds maxBatch·maxSeq = ${this.maxTokens}`);
    const capacity = Math.min(this.ropeLength, P + opts.maxNewTokens);
    if (capacity <= P) throw new Error(`generate: prompt of ${P} tokens leaves no room in the model's ${this.ropeLength} positions`);
    for (const b of this.blocks) b.ensureCache(capacity);
    const eos = new Set(opts.eosTokenIds ?? cfg.eosTokenIds);
    const rand = seededRandom(opts.seed ?? 0);
    const last = this.scratch.get('gen last', C), lastNorm = this.scratch.get('gen last norm', C);
    const stat = this.scratch.get('gen stats', 2), lastLogits = this.scratch.get('gen logits', V);
    const out: number[] = [];
    let pos = 0;
    let pending = Uint32Array.from(promptIds);
    while (out.length < opts.maxNewTokens && pos + pending.length <= capacity) {
      const T = pending.length;
      gpu.upload(this.ids, pending);
      const step = gpu.step('decode');
      const s: PassShape = { B: 1, T, posStart: pos, training: false, useCache: true };
      await this.embedAndBlocks(step, s);
      // only the last row goes through the final norm and the LM head: [1, C] → [1, V]
      step.copy(this.res[this.blocks.length], (T - 1) * C * 4, last, 0, C * 4);
      if (cfg.norm === 'layer') await layernormForward(gpu, step, { rows: 1, dim: C, eps: cfg.normEps }, last, this.normW, this.normB!, lastNorm, stat, this.fRstd);
      else await rmsnormForward(gpu, step, { rows: 1, dim: C, eps: cfg.normEps }, last, this.normW, lastNorm, stat);
      await matmul(gpu, step, { M: 1, N: V, K: C, transB: true, bType: this.head.type }, lastNorm, this.head.buffer, lastLogits);
      step.submit();
      const logits = await gpu.readF32(lastLogits, V);
      const next = sampleToken(logits, opts, rand);
      out.push(next);
      pos += T;
      if (eos.has(next)) break;
      pending = Uint32Array.of(next);
    }
    return out;
  }

  frozenBytes(): number {
    return this.frozen;
  }

  activationBytes(): number {
    const C = this.config.hidden, N = this.maxTokens, V = this.config.vocabSize, R = this.chunkRows;
    const model = (this.res.length + 3) * N * C * 4 + 4 * N * 4 + R * (V + 2 * C + 2) * 4;
    return model + this.blocks.reduce((a, b) => a + b.activationBytes(), 0) + this.scratch.bytes();
  }
}
