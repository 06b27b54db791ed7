// Shared by the GPU tests: one device per test file (Vitest forks a process per file), seeded random
// inputs, relative L2 error, and the poison value outputs are filled with before a kernel runs.
import { Gpu } from '../../src/engine/gpu/runtime';
import { uniformArray } from '../../src/engine/util/random';


/** The test GPU. No adapter is a failure with the runtime's message, never a skip. */
export function testGpu(): Promise<Gpu> {
  return Gpu.shared();
}

export const POISON = Number.NaN;

/** Deterministic uniform(-1, 1) values (mulberry32), so a failure can be replayed from its seed. */
export const randn = uniformArray;

/** A fresh seed per run (printed on failure through the test name), unless WEBLORA_SEED fixes it. */
export function freshSeed(): number {
  return process.env.WEBLORA_SEED ? Number(process.env.WEBLORA_SEED) : (Math.random() * 2 ** 31) >>> 0;
}

/** ‖got − want‖₂ / ‖want‖₂ (absolute when want is all zero); NaN anywhere gives Infinity. */
export function relL2(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} != ${want.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    const d = got[i] - want[i];
    if (!Number.isFinite(got[i])) return Infinity;
    num += d * d;
    den += want[i] * want[i];
  }
  return Math.sqrt(num) / (den > 0 ? Math.sqrt(den) : 1);
}
