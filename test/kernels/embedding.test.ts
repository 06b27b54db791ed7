import { describe, expect, it } from 'vitest';
import { embeddingForward, type WeightDtype } from '../../src/kernels/embedding';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, fromBf16, fromF16, toBf16, toF16 } from '../../src/engine/util/half';
import { POISON, freshSeed, randn, relL2, testGpu } from '../helpers/gpu';
import type { Gpu } from '../../src/engine/gpu/runtime';

describe('half conversions', () => {
  it('known values, rounding to nearest even, specials', () => {
    expect(f32ToF16(1)).toBe(0x3c00);
    expect(f32ToF16(-2)).toBe(0xc000);
    expect(f32ToF16(0.1)).toBe(0x2e66);
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(65520)).toBe(0x7c00); // halfway to 65536 rounds (to even) up to inf
    expect(f32ToF16(2 ** -24)).toBe(1); // smallest subnormal
    expect(f32ToF16(2 ** -25)).toBe(0); // tie to even: 0
    expect(f32ToF16(1.5 * 2 ** -25)).toBe(1);
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00); // tie, even stays
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, odd rounds up
    expect(f32ToF16(-Infinity)).toBe(0xfc00);
    expect(Number.isNaN(f16ToF32(f32ToF16(NaN)))).toBe(true);
    expect(f16ToF32(0x3555)).toBeCloseTo(0.33325195, 8);
    expect(f32ToBf16(1)).toBe(0x3f80);
    expect(f32ToBf16(Math.PI)).toBe(0x4049);
    expect(f32ToBf16(1 + 2 ** -8)).toBe(0x3f80);
    expect(f32ToBf16(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(Number.isNaN(bf16ToF32(f32ToBf16(NaN)))).toBe(true);
    expect(bf16ToF32(0xc0a0)).toBe(-5);
  });

  it('every finite 16-bit pattern round-trips', () => {
    for (let h = 0; h < 0x10000; h++) {
      const e = (h >>> 10) & 0x1f;
      if (e !== 31 && f32ToF16(f16ToF32(h)) !== h) throw new Error(`f16 ${h.toString(16)}`);
      if (((h >>> 7) & 0xff) !== 0xff && f32ToBf16(bf16ToF32(h)) !== h) throw new Error(`bf16 ${h.toString(16)}`);
    }
  });
});

/** The table as stored on the GPU and the exact values it encodes. */
function encode(values: Float32Array, dtype: WeightDtype): { stored: ArrayBufferView; decoded: Float32Array } {
  if (dtype === 'f32') return { stored: values, decoded: values };
  const bits = dtype === 'f16' ? toF16(values) : toBf16(values);
  return { stored: bits, decoded: dtype === 'f16' ? fromF16(bits) : fromBf16(bits) };
}

const buffer = (gpu: Gpu, d: ArrayBufferView, label: string) => gpu.buffer(d.byteLength, label, d);

// dim 37: 16-bit rows start mid-word for odd ids; 300: threads loop over the row.
const cases: { dtype: WeightDtype; posDtype?: WeightDtype; dim: number; positions: boolean }[] = [
  { dtype: 'f32', dim: 37, positions: false },
  { dtype: 'f16', dim: 37, positions: false },
  { dtype: 'bf16', dim: 37, positions: false },
  { dtype: 'bf16', dim: 300, positions: false },
  { dtype: 'f32', posDtype: 'f32', dim: 37, positions: true },
  { dtype: 'f16', posDtype: 'f16', dim: 37, positions: true },
  { dtype: 'bf16', posDtype: 'f32', dim: 300, positions: true },
];

describe('embeddingForward', () => {
  for (const c of cases)
    it(`${c.dtype} dim ${c.dim}${c.positions ? ` + ${c.posDtype} positions` : ''}`, async () => {
      const gpu = await testGpu();
      const seed = freshSeed();
      const [vocab, tokens, seq, maxPos, posStart] = [23, 13, 5, 9, 2];
      const values = randn(vocab * c.dim, seed, 3);
      const table = encode(values, c.dtype);
      // the 16-bit encodings stay close to the floats they came from (a broken converter would not)
      expect(relL2(table.decoded, values)).toBeLessThan(c.dtype === 'bf16' ? 1e-2 : 1e-3);
      const ids = Uint32Array.from({ length: tokens }, (_, i) => (seed + i * 7) % vocab);
      ids[0] = vocab - 1;
      ids[1] = 1;
      const posValues = randn(maxPos * c.dim, seed + 1);
      const pos = encode(posValues, c.posDtype ?? 'f32');
      const out = gpu.buffer(tokens * c.dim * 4, 'out');
      gpu.fill(out, POISON);
      const step = gpu.step();
      await embeddingForward(
        gpu, step,
        { tokens, dim: c.dim, dtype: c.dtype, ...(c.positions ? { seq, posDtype: c.posDtype, posStart } : {}) },
        buffer(gpu, ids, 'ids'), buffer(gpu, table.stored, 'table'), out,
        c.positions ? buffer(gpu, pos.stored, 'positions') : undefined,
      );
      step.submit();
      const want = new Float64Array(tokens * c.dim);
      for (let t = 0; t < tokens; t++)
        for (let j = 0; j < c.dim; j++)
          want[t * c.dim + j] = table.decoded[ids[t] * c.dim + j] + (c.positions ? pos.decoded[(posStart + (t % seq)) * c.dim + j] : 0);
      expect(relL2(await gpu.readF32(out), want), `seed ${seed}`).toBeLessThan(1e-6);
    });
});
