import { describe, expect, it } from 'vitest';
import { matmul, planMatmul, type MatmulPlan, type MatmulShape } from '../../src/kernels/matmul';
import { packWeights16 } from '../../src/kernels/linear';
import { matmulRef } from '../reference/matmul';
import { POISON, freshSeed, randn, relL2, testGpu } from '../helpers/gpu';
import { to16 } from '../helpers/half';

// SwiftShader compiles each generated variant in 1–3 s: give every case room.
const T = 120_000;

const forms = [
  { transA: false, transB: false },
  { transA: false, transB: true },
  { transA: true, transB: false },
  { transA: true, transB: true },
];
const formName = (f: { transA?: boolean; transB?: boolean }) => `${f.transA ? 'Aᵀ' : 'A'}·${f.transB ? 'Bᵀ' : 'B'}`;

/** Runs one matmul on fresh random inputs (B rounded to 16 bits when bType says so), C poisoned or preset,
 *  and returns the relative L2 error against the float64 reference. */
async function check(s: MatmulShape, plan?: MatmulPlan): Promise<{ err: number; seed: number }> {
  const gpu = await testGpu();
  const seed = freshSeed();
  const { M, N, K } = s;
  const bType = s.bType ?? 'f32';
  const A = randn(M * K, seed);
  let B = randn(K * N, seed + 1);
  let bData: ArrayBufferView = B;
  if (bType !== 'f32') {
    const h = to16(B, bType);
    B = h.values; // the reference multiplies by exactly the values the GPU unpacks
    bData = packWeights16(h.bits);
  }
  const C0 = s.accumulate ? randn(M * N, seed + 2) : undefined;
  const c = gpu.buffer(M * N * 4, 'C');
  if (C0) gpu.upload(c, C0);
  else gpu.fill(c, POISON);
  const step = gpu.step();
  await matmul(gpu, step, s, gpu.buffer(A.byteLength, 'A', A), gpu.buffer(bData.byteLength, 'B', bData), c, plan);
  step.submit();
  const got = await gpu.readF32(c);
  return { err: relL2(got, matmulRef(A, B, M, N, K, { ...s, C0 })), seed };
}

// Every tile shape the planner can pick, plus forced split-K (incl. a split count that leaves a short last range).
const plans: Record<string, MatmulPlan> = {
  '128×128 8×8': { BM: 128, BN: 128, BK: 8, TM: 8, TN: 8, splits: 1 },
  '64×128 8×8': { BM: 64, BN: 128, BK: 16, TM: 8, TN: 8, splits: 1 },
  '64×128 BK 8 split-K 3': { BM: 64, BN: 128, BK: 8, TM: 8, TN: 8, splits: 3 },
  '64×64 4×4': { BM: 64, BN: 64, BK: 16, TM: 4, TN: 4, splits: 1 },
  '16×64 skinny M': { BM: 16, BN: 64, BK: 16, TM: 4, TN: 4, splits: 1 },
  '64×16 skinny N': { BM: 64, BN: 16, BK: 16, TM: 4, TN: 4, splits: 1 },
  '32×32 split-K 3': { BM: 32, BN: 32, BK: 16, TM: 4, TN: 4, splits: 3 },
  '64×64 split-K 4': { BM: 64, BN: 64, BK: 16, TM: 4, TN: 4, splits: 4 },
};
// odd sizes (scalar loads, partial tiles everywhere) and sizes divisible by 8 (vec4 loads, interior tiles
// without bounds checks next to edge tiles)
const planShapes: [number, number, number][] = [
  [131, 137, 75],
  [136, 144, 104],
];

describe('matmul f32, automatic plan', () => {
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [7, 13, 5],
    [65, 127, 33],
    [300, 257, 129],
    [16, 200, 300], // LoRA dA: M = r, K = tokens → split-K
    [300, 8, 260], // LoRA g = dy·B: N = r
  ];
  for (const [M, N, K] of shapes)
    for (const f of forms)
      it(`${M}×${N}×${K} ${formName(f)}`, async () => {
        const { err, seed } = await check({ M, N, K, ...f, alpha: 0.75 });
        expect(err, `seed ${seed}`).toBeLessThan(1e-5);
      }, T);

  it('accumulates into C', async () => {
    const { err, seed } = await check({ M: 33, N: 17, K: 70, transB: true, accumulate: true });
    expect(err, `seed ${seed}`).toBeLessThan(1e-5);
  }, T);
});

describe('matmul f32, every tile plan', () => {
  for (const [name, plan] of Object.entries(plans))
    for (const [M, N, K] of planShapes)
      for (const f of forms)
        it(`${name}: ${M}×${N}×${K} ${formName(f)}`, async () => {
          const { err, seed } = await check({ M, N, K, ...f, alpha: -1.25 }, plan);
          expect(err, `seed ${seed}`).toBeLessThan(1e-5);
        }, T);

  it('split-K accumulates into C, alpha applied once', async () => {
    const { err, seed } = await check({ M: 21, N: 19, K: 301, transA: true, accumulate: true, alpha: 0.5 }, plans['32×32 split-K 3']);
    expect(err, `seed ${seed}`).toBeLessThan(1e-5);
  }, T);
});

describe('matmul with 16-bit B', () => {
  // The contiguous dimension of B (K when transB, else N) decides the load width: odd → 1 value (and an odd
  // element count leaves the last word half-used), 2 → one word, 4 → vec2<u32>, 8 → vec4<u32>.
  const contiguous = [5, 6, 12, 40];
  for (const bType of ['f16', 'bf16'] as const)
    for (const transB of [true, false])
      for (const inner of contiguous) {
        const [M, N, K] = transB ? [19, 33, inner] : [19, inner, 33];
        it(`${bType} ${M}×${N}×${K} ${formName({ transB })}`, async () => {
          const { err, seed } = await check({ M, N, K, transB, bType, alpha: 0.5 });
          expect(err, `seed ${seed}`).toBeLessThan(1e-5);
        }, T);
      }

  // Every plan with bf16 (the models' weights); f16 differs only in the unpack of a word, so the plans the planner
  // picks for wide products (64×128) and for the LoRA rank (skinny, split-K) are enough for it.
  const f16Plans = ['64×128 8×8', '64×128 BK 8 split-K 3', '16×64 skinny M', '64×16 skinny N'];
  for (const bType of ['f16', 'bf16'] as const)
    for (const [name, plan] of Object.entries(plans).filter(([n]) => bType === 'bf16' || f16Plans.includes(n)))
      for (const [M, N, K] of planShapes)
        it(`${bType} ${name}: ${M}×${N}×${K} A·Bᵀ and Aᵀ·B`, async () => {
          for (const f of [forms[1], forms[2]]) {
            const { err, seed } = await check({ M, N, K, ...f, bType }, plan);
            expect(err, `${formName(f)} seed ${seed}`).toBeLessThan(1e-5);
          }
        }, T);

  it('bf16 accumulate with split-K', async () => {
    const { err, seed } = await check({ M: 9, N: 45, K: 333, transB: true, bType: 'bf16', accumulate: true, alpha: 2 }, plans['32×32 split-K 3']);
    expect(err, `seed ${seed}`).toBeLessThan(1e-5);
  }, T);
});

describe('planMatmul', () => {
  it('gives the LoRA rank dimension a narrow tile and splits K when tiles are few', () => {
    const dA = planMatmul({ M: 16, N: 576, K: 2048 }); // dA = gᵀ·x
    expect(dA.BM).toBe(16);
    expect(dA.splits).toBeGreaterThan(1);
    const xa = planMatmul({ M: 2048, N: 16, K: 576 }); // xa = x·Aᵀ
    expect(xa.BN).toBe(16);
    const big = planMatmul({ M: 4096, N: 4096, K: 4096 });
    expect([big.BM, big.BN, big.splits]).toEqual([128, 128, 1]);
    const gateUp = planMatmul({ M: 2048, N: 4864, K: 896, bType: 'bf16' }); // a frozen bf16 linear
    expect([gateUp.BM, gateUp.BN, gateUp.splits]).toEqual([64, 128, 1]);
    const kv = planMatmul({ M: 2048, N: 128, K: 896 }); // a narrow k/v projection: 64×64, split-K
    expect([kv.BM, kv.BN]).toEqual([64, 64]);
    expect(kv.splits).toBeGreaterThan(1);
    const headDh = planMatmul({ M: 384, N: 896, K: 151936 }); // LM head dh = dlogits·E: few tiles, long K
    expect([headDh.BM, headDh.BN]).toEqual([64, 128]);
    expect(headDh.splits).toBeGreaterThan(4);
  });
});
