// Attention with the tilings the device picks by itself (attentionTiles: the largest that fit its workgroup
// memory), and the largest head dim. Split from attention.test.ts so the two slow-compiling halves run in
// parallel under SwiftShader. The 48 KiB tilings an H100 picks are checked there by bench/attention-bench.ts.
import { describe, expect, it } from 'vitest';
import { attentionSharedBytes, attentionTiles, type AttentionTiles } from '../../src/kernels/attention';
import type { Gpu } from '../../src/engine/gpu/runtime';
import { attentionBackwardRef, attentionForwardRef } from '../reference/attention';
import { freshSeed, relL2, testGpu } from '../helpers/gpu';
import { attnInputs, runBoth, shapeName, type Shape } from '../helpers/attention';

async function check(s: Shape, tiles?: Partial<Record<'forward' | 'dq' | 'dkv', AttentionTiles>>) {
  const gpu = await testGpu();
  const seed = freshSeed();
  const x = attnInputs(s, seed);
  const got = await runBoth(gpu, { ...s, tiles }, x);
  const f = attentionForwardRef(s, x.q, x.k, x.v);
  const g = attentionBackwardRef(s, x.q, x.k, x.v, x.dout);
  expect(relL2(got.out, f.out), `out seed ${seed}`).toBeLessThan(1e-5);
  expect(relL2(got.lse, f.lse), `lse seed ${seed}`).toBeLessThan(1e-5);
  expect(relL2(got.dq, g.dq), `dq seed ${seed}`).toBeLessThan(1e-5);
  expect(relL2(got.dk, g.dk), `dk seed ${seed}`).toBeLessThan(1e-5);
  expect(relL2(got.dv, g.dv), `dv seed ${seed}`).toBeLessThan(1e-5);
}

describe('attention tilings', () => {
  const s: Shape = { batch: 1, seq: 70, heads: 2, kvHeads: 1, headDim: 16 };
  it(`device-chosen tiles, ${shapeName(s)} (T over two tiles)`, async () => {
    const gpu = await testGpu();
    const chosen = (['forward', 'dq', 'dkv'] as const).map((k) => attentionTiles(gpu, k, s.headDim));
    expect(chosen.every((t) => t.BQ >= 16 && t.BK >= 16), JSON.stringify(chosen)).toBe(true);
    await check(s);
  });

  const big: Shape = { batch: 1, seq: 19, heads: 2, kvHeads: 2, headDim: 128 };
  it(`largest head dim, ${shapeName(big)}`, () => check(big, { forward: { BQ: 8, BK: 8, WG: 16 }, dq: { BQ: 8, BK: 8, WG: 16 }, dkv: { BK: 8, BQ: 8, WG: 16 } }));

  it('a tiling exists within 32 KiB (and 16 KiB) of workgroup memory for every head dim up to 128', () => {
    for (const mem of [32768, 16384]) {
      const fake = { info: { limits: { maxComputeWorkgroupStorageSize: mem, maxComputeInvocationsPerWorkgroup: 256 } } } as unknown as Gpu;
      for (let D = 1; D <= 128; D++)
        for (const kernel of ['forward', 'decode', 'dq', 'dkv'] as const) {
          const t = attentionTiles(fake, kernel, D);
          expect(attentionSharedBytes(kernel, D, t)).toBeLessThanOrEqual(mem);
          if (mem === 32768 && D <= 64 && kernel !== 'decode') expect(t.BK, `${kernel} D${D}`).toBeGreaterThanOrEqual(16);
        }
    }
  });

  const tiny: Shape = { batch: 1, seq: 21, heads: 2, kvHeads: 1, headDim: 16 };
  it(`smallest tilings (16 KiB devices), ${shapeName(tiny)}`, () =>
    check(tiny, { forward: { BQ: 8, BK: 8, WG: 16 }, dq: { BQ: 8, BK: 8, WG: 16 }, dkv: { BK: 4, BQ: 8, WG: 8 } }));
});
