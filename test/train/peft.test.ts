import { describe, expect, it } from 'vitest';
import {
  adapterConfigJson, adapterScale, f32ToBf16, f32ToBytes, f32ToF16, mergeLoraIntoModel, parseLoraAdapter,
  readLoraAdapter, serializeLoraAdapter, tensorToF32, type LoraAdapter,
} from '../../src/engine/io/peft';
import { parseSafetensors, serializeSafetensors } from '../../src/engine/io/safetensors';
import { memorySource } from '../../src/engine/io/files';
import { freshSeed, randn, relL2 } from '../helpers/gpu';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const fixtures = path.resolve(__dirname, '../fixtures');

function adapter(seed: number, fanInFanOut = false, rslora = false): LoraAdapter {
  const layers = new Map();
  const mk = (module: string, r: number, inDim: number, outDim: number, s: number) =>
    layers.set(module, { module, r, inDim, outDim, A: randn(r * inDim, s), B: randn(outDim * r, s + 1) });
  mk(fanInFanOut ? 'transformer.h.0.attn.c_attn' : 'model.layers.0.self_attn.q_proj', 3, 7, 9, seed);
  mk(fanInFanOut ? 'transformer.h.1.attn.c_attn' : 'model.layers.1.self_attn.v_proj', 3, 7, 5, seed + 2);
  return {
    config: { r: 3, alpha: 5, rslora, targetModules: fanInFanOut ? ['c_attn'] : ['v_proj', 'q_proj'], fanInFanOut, baseModel: 'tiny' },
    layers,
  };
}

describe('PEFT adapter files', () => {
  it('config JSON: sorted keys, indent 2, the fields PEFT reads', () => {
    const text = adapterConfigJson(adapter(1).config);
    const obj = JSON.parse(text);
    expect(Object.keys(obj)).toEqual([...Object.keys(obj)].sort());
    expect(text.split('\n')[2]).toBe('  "alpha_pattern": {},');
    expect(obj).toMatchObject({ peft_type: 'LORA', r: 3, lora_alpha: 5, use_rslora: false, fan_in_fan_out: false, bias: 'none', task_type: 'CAUSAL_LM', inference_mode: true, use_dora: false, target_modules: ['q_proj', 'v_proj'] });
    expect(text).toContain('"target_modules": [\n    "q_proj",\n    "v_proj"\n  ]');
  });

  for (const name of ['llama', 'gpt2'])
    it(`config JSON is byte-identical to PEFT 0.21's (fixtures/${name}/adapter)`, () => {
      const want = readFileSync(path.join(fixtures, name, 'adapter/adapter_config.json'), 'utf8');
      const e = JSON.parse(readFileSync(path.join(fixtures, name, 'expect.json'), 'utf8')).adapter;
      const got = adapterConfigJson({ r: e.r, alpha: e.lora_alpha, rslora: false, targetModules: e.target_modules, fanInFanOut: e.fan_in_fan_out, baseModel: '../model' });
      expect(got).toBe(want);
    });

  it('reads the fixture adapters PEFT wrote (keys, shapes, values)', async () => {
    for (const name of ['llama', 'gpt2']) {
      const dir = path.join(fixtures, name, 'adapter');
      const a = parseLoraAdapter(readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'), new Uint8Array(readFileSync(path.join(dir, 'adapter_model.safetensors'))), dir);
      const e = JSON.parse(readFileSync(path.join(fixtures, name, 'expect.json'), 'utf8')).adapter;
      expect(a.layers.size * 2).toBe(e.keys.length);
      expect(a.config).toMatchObject({ r: e.r, alpha: e.lora_alpha, fanInFanOut: e.fan_in_fan_out, rslora: false });
      // writing it back gives the same tensors, bit for bit
      const st = parseSafetensors(new Uint8Array(readFileSync(path.join(dir, 'adapter_model.safetensors'))), 'orig');
      const again = parseSafetensors(serializeLoraAdapter(a)['adapter_model.safetensors'], 'again');
      expect([...again.tensors.keys()].sort()).toEqual([...st.tensors.keys()].sort());
      for (const [k, t] of st.tensors) {
        expect(again.tensors.get(k)!.shape).toEqual(t.shape);
        expect(Array.from(tensorToF32(again.tensors.get(k)!))).toEqual(Array.from(tensorToF32(t)));
      }
    }
  });

  for (const [gpt2, rs] of [[false, false], [true, true]] as const)
    it(`round trip ${gpt2 ? 'GPT-2 fan_in_fan_out, rsLoRA' : 'Llama LoRA'}`, async () => {
      const seed = freshSeed();
      const a = adapter(seed, gpt2, rs);
      const files = serializeLoraAdapter(a);
      // the keys and shapes PEFT uses
      const st = parseSafetensors(files['adapter_model.safetensors'], 'x');
      expect(st.metadata).toEqual({ format: 'pt' });
      const first = [...a.layers.keys()][0];
      expect(st.tensors.get(`base_model.model.${first}.lora_A.weight`)!.shape).toEqual([3, 7]);
      expect(st.tensors.get(`base_model.model.${first}.lora_B.weight`)!.shape).toEqual([9, 3]);
      const back = await readLoraAdapter(memorySource(files), 'mem');
      expect(back.config).toMatchObject({ r: 3, alpha: 5, rslora: rs, fanInFanOut: gpt2, targetModules: [...a.config.targetModules].sort() });
      for (const [k, l] of a.layers) {
        const g = back.layers.get(k)!;
        expect([g.r, g.inDim, g.outDim]).toEqual([l.r, l.inDim, l.outDim]);
        expect(Array.from(g.A)).toEqual(Array.from(l.A));
        expect(Array.from(g.B)).toEqual(Array.from(l.B));
      }
      expect(adapterScale(back.config)).toBeCloseTo(rs ? 5 / Math.sqrt(3) : 5 / 3, 14);
    });

  it('refuses mismatched and foreign adapters with a message', () => {
    const a = adapter(3);
    const files = serializeLoraAdapter(a);
    const cfg = new TextDecoder().decode(files['adapter_config.json']);
    expect(() => parseLoraAdapter(cfg.replace('"r": 3', '"r": 4'), files['adapter_model.safetensors'], 'ad')).toThrow(/rank 3.*r=4/);
    expect(() => parseLoraAdapter(cfg.replace('"use_dora": false', '"use_dora": true'), files['adapter_model.safetensors'], 'ad')).toThrow(/DoRA/);
    expect(() => parseLoraAdapter('{', files['adapter_model.safetensors'], 'ad')).toThrow(/ad\/adapter_config.json: not valid JSON/);
    const lone = serializeSafetensors([{ name: 'base_model.model.m.lora_A.weight', dtype: 'F32', shape: [3, 2], data: new Float32Array(6) }]);
    expect(() => parseLoraAdapter(cfg, lone, 'ad')).toThrow(/m has only lora_A/);
  });

  it('16-bit conversions round to nearest even', () => {
    expect(f32ToF16(1)).toBe(0x3c00);
    expect(f32ToF16(-2)).toBe(0xc000);
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(1e6)).toBe(0x7c00);
    expect(f32ToF16(2 ** -24)).toBe(1);
    expect(f32ToF16(2 ** -26)).toBe(0);
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(f32ToBf16(1)).toBe(0x3f80);
    expect(f32ToBf16(1 + 2 ** -8)).toBe(0x3f80); // tie → even
    expect(f32ToBf16(1 + 3 * 2 ** -8)).toBe(0x3f82);
    const x = randn(101, freshSeed(), 10);
    for (const dt of ['F16', 'BF16'] as const) {
      const back = tensorToF32({ dtype: dt, shape: [101], data: f32ToBytes(x, dt) });
      expect(relL2(back, x)).toBeLessThan(dt === 'F16' ? 1e-3 : 1e-2);
    }
  });

  for (const [gpt2, dtype] of [[false, 'F32'], [true, 'F32'], [false, 'BF16']] as const)
    it(`merge: ${gpt2 ? 'Conv1D [in,out]' : 'Linear [out,in]'} ${dtype} weights = W₀ + s·B·A, other tensors and files untouched`, async () => {
      const seed = freshSeed();
      const a = adapter(seed, gpt2);
      const s = adapterScale(a.config);
      const shapes: Record<string, [number, number]> = {};
      const modelTensors: { name: string; dtype: any; shape: number[]; data: Uint8Array }[] = [];
      let k = 0;
      for (const l of a.layers.values()) {
        const shape: [number, number] = gpt2 ? [l.inDim, l.outDim] : [l.outDim, l.inDim];
        // GPT-2 checkpoints store keys without `transformer.`
        const key = (gpt2 ? l.module.replace(/^transformer\./, '') : l.module) + '.weight';
        shapes[key] = shape;
        modelTensors.push({ name: key, dtype, shape, data: f32ToBytes(randn(shape[0] * shape[1], seed + 10 + k++), dtype) });
      }
      modelTensors.push({ name: 'norm.weight', dtype, shape: [7], data: f32ToBytes(randn(7, seed + 20), dtype) });
      const modelFile = serializeSafetensors(modelTensors, { format: 'pt' });
      const merged = await mergeLoraIntoModel(memorySource({ 'model.safetensors': modelFile, 'config.json': '{"x": 1}' }), a);
      expect(new TextDecoder().decode(merged.get('config.json')!)).toBe('{"x": 1}');
      const st = parseSafetensors(merged.get('model.safetensors')!, 'merged');
      expect(st.metadata).toEqual({ format: 'pt' });
      const orig = parseSafetensors(modelFile, 'orig');
      expect(Array.from(st.tensors.get('norm.weight')!.data)).toEqual(Array.from(orig.tensors.get('norm.weight')!.data));
      for (const l of a.layers.values()) {
        const key = (gpt2 ? l.module.replace(/^transformer\./, '') : l.module) + '.weight';
        const t = st.tensors.get(key)!;
        expect(t.dtype).toBe(dtype);
        const W0 = tensorToF32(orig.tensors.get(key)!);
        const want = new Float64Array(W0.length);
        for (let o = 0; o < l.outDim; o++)
          for (let i = 0; i < l.inDim; i++) {
            let d = 0;
            for (let q = 0; q < l.r; q++) d += l.B[o * l.r + q] * l.A[q * l.inDim + i];
            const idx = gpt2 ? i * l.outDim + o : o * l.inDim + i;
            want[idx] = W0[idx] + s * d;
          }
        expect(relL2(tensorToF32(t), want), `seed ${seed}`).toBeLessThan(dtype === 'F32' ? 1e-6 : 4e-3);
      }
    });

  it('merge refuses an adapter whose module is not in the model', async () => {
    const a = adapter(5);
    const file = serializeSafetensors([{ name: 'other.weight', dtype: 'F32', shape: [1], data: new Float32Array(1) }]);
    await expect(mergeLoraIntoModel(memorySource({ 'model.safetensors': file }), a)).rejects.toThrow(/no weight for adapted module model.layers.0.self_attn.q_proj/);
  });
});
