import { describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModelFiles } from '../../src/engine/io/model-files.ts';
import { filesSource, memorySource, nodeDirSource } from '../../src/engine/io/files.ts';
import { serializeSafetensors, type TensorToWrite } from '../../src/engine/io/safetensors.ts';
import { IDS, tinyTokenizerConfig, tinyTokenizerJson } from './tiny-tokenizer.ts';

const llamaConfig = {
  architectures: ['LlamaForCausalLM'], hidden_size: 8, intermediate_size: 16, num_attention_heads: 2, num_key_value_heads: 1,
  num_hidden_layers: 1, vocab_size: 266, max_position_embeddings: 64, rms_norm_eps: 1e-5, eos_token_id: IDS.eos, bos_token_id: IDS.bos,
};
const f32 = (n: number, base = 0) => Float32Array.from({ length: n }, (_, i) => base + i);
const tokFiles = {
  'tokenizer.json': JSON.stringify(tinyTokenizerJson()),
  'tokenizer_config.json': JSON.stringify(tinyTokenizerConfig()),
};

describe('loadModelFiles', () => {
  it('single file: config, tensors, tokenizer, generation_config eos merged', async () => {
    const w: TensorToWrite[] = [
      { name: 'model.embed_tokens.weight', dtype: 'F32', shape: [266, 8], data: f32(266 * 8) },
      { name: 'model.norm.weight', dtype: 'BF16', shape: [8], data: new Uint16Array(8).fill(0x3f80) },
    ];
    const m = await loadModelFiles(memorySource({
      'config.json': JSON.stringify(llamaConfig),
      'generation_config.json': JSON.stringify({ eos_token_id: [IDS.eos, 7] }),
      'model.safetensors': serializeSafetensors(w, { format: 'pt' }),
      ...tokFiles,
    }));
    expect(m.modelConfig.arch).toBe('llama');
    expect(m.modelConfig.eosTokenIds).toEqual([IDS.eos, 7]);
    expect(m.tokenizer.eosTokenIds).toEqual([IDS.eos, 7]);
    expect(m.generationConfig).toEqual({ eos_token_id: [IDS.eos, 7] });
    expect([...m.tensors.keys()].sort()).toEqual(['model.embed_tokens.weight', 'model.norm.weight']);
    expect(m.tensors.get('model.norm.weight')!.dtype).toBe('BF16');
    expect(m.tokenizer.encode('hello')).toEqual([IDS.bos, IDS.hello]);
    expect(m.config.num_key_value_heads).toBe(1);
  });

  it('sharded: merges shards by weight_map and checks it', async () => {
    const shard1 = serializeSafetensors([{ name: 'a', dtype: 'F32', shape: [2], data: f32(2) }]);
    const shard2 = serializeSafetensors([{ name: 'b', dtype: 'F32', shape: [3], data: f32(3, 10) }]);
    const index = { metadata: { total_size: 20 }, weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' } };
    const files = {
      'config.json': JSON.stringify(llamaConfig), ...tokFiles,
      'model.safetensors.index.json': JSON.stringify(index),
      'model-00001-of-00002.safetensors': shard1, 'model-00002-of-00002.safetensors': shard2,
    };
    const m = await loadModelFiles(memorySource(files));
    expect(m.weightFiles).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect(Array.from(new Float32Array(m.tensors.get('b')!.data.slice().buffer))).toEqual([10, 11, 12]);

    const missingShard = { ...files } as Record<string, Uint8Array | string>;
    delete missingShard['model-00002-of-00002.safetensors'];
    await expect(loadModelFiles(memorySource(missingShard))).rejects.toThrow(/shard model-00002-of-00002\.safetensors \(for b\) is missing/);
    const badIndex = { ...files, 'model.safetensors.index.json': JSON.stringify({ weight_map: { ...index.weight_map, c: 'model-00001-of-00002.safetensors' } }) };
    await expect(loadModelFiles(memorySource(badIndex))).rejects.toThrow(/model-00001-of-00002\.safetensors: tensor "c" listed/);
    const corrupt = { ...files, 'model-00002-of-00002.safetensors': shard2.subarray(0, shard2.length - 1) };
    await expect(loadModelFiles(memorySource(corrupt))).rejects.toThrow(/model-00002-of-00002\.safetensors: invalid safetensors/);
  });

  it('GPT-2: adds the transformer. prefix and drops attention mask buffers', async () => {
    const gpt2 = { architectures: ['GPT2LMHeadModel'], n_embd: 4, n_head: 2, n_layer: 1, n_positions: 8, vocab_size: 266 };
    const w: TensorToWrite[] = [
      { name: 'wte.weight', dtype: 'F32', shape: [266, 4], data: f32(266 * 4) },
      { name: 'h.0.attn.bias', dtype: 'F32', shape: [1, 1, 8, 8], data: f32(64) },
      { name: 'h.0.attn.masked_bias', dtype: 'F32', shape: [], data: f32(1) },
      { name: 'h.0.attn.c_attn.bias', dtype: 'F32', shape: [12], data: f32(12) },
      { name: 'transformer.ln_f.weight', dtype: 'F32', shape: [4], data: f32(4) },
    ];
    const m = await loadModelFiles(memorySource({ 'config.json': JSON.stringify(gpt2), 'model.safetensors': serializeSafetensors(w), ...tokFiles }));
    expect([...m.tensors.keys()].sort()).toEqual(['transformer.h.0.attn.c_attn.bias', 'transformer.ln_f.weight', 'transformer.wte.weight']);
    expect(m.modelConfig.tieEmbeddings).toBe(true);
  });

  it('clear errors for missing files', async () => {
    await expect(loadModelFiles(memorySource({}))).rejects.toThrow(/config\.json not found/);
    await expect(loadModelFiles(memorySource({ 'config.json': JSON.stringify(llamaConfig), 'pytorch_model.bin': 'x' }))).rejects.toThrow(/\.bin checkpoints are not supported/);
    await expect(loadModelFiles(memorySource({ 'config.json': '{', 'model.safetensors': '' }))).rejects.toThrow(/config\.json: invalid JSON/);
  });

  it('nodeDirSource lists recursively and reads; filesSource strips the picked folder name', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weblora-io-'));
    try {
      await mkdir(join(dir, 'sub'));
      await writeFile(join(dir, 'config.json'), '{"a":1}');
      await writeFile(join(dir, 'sub', 'x.bin'), new Uint8Array([1, 2, 3]));
      const src = nodeDirSource(dir);
      expect(await src.list()).toEqual(['config.json', 'sub/x.bin']);
      expect(Array.from(await src.read('sub/x.bin'))).toEqual([1, 2, 3]);
      expect(await src.readText('config.json')).toBe('{"a":1}');
      await expect(src.read('../etc/passwd')).rejects.toThrow(/outside the folder/);
      await expect(src.read('nope')).rejects.toThrow(/cannot read/);
      const big = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 255);
      await writeFile(join(dir, 'big.bin'), big);
      expect(Array.from(await nodeDirSource(dir, { chunkBytes: 64 }).read('big.bin'))).toEqual(Array.from(big));
    } finally {
      await rm(dir, { recursive: true });
    }
    const mk = (name: string, rel: string, body: string) => Object.assign(new File([body], name), { webkitRelativePath: rel });
    const picked = filesSource([mk('config.json', 'gpt2/config.json', '{}'), mk('x.safetensors', 'gpt2/onnx/x.safetensors', 'ab')]);
    expect(await picked.list()).toEqual(['config.json', 'onnx/x.safetensors']);
    expect(await picked.readText('config.json')).toBe('{}');
    expect(Array.from(await picked.read('onnx/x.safetensors'))).toEqual([97, 98]);
    const dropped = filesSource([new File(['1'], 'a.json'), new File(['2'], 'b.json')]);
    expect(await dropped.list()).toEqual(['a.json', 'b.json']);
    await expect(dropped.read('c.json')).rejects.toThrow(/not among the selected files/);
  });
});
