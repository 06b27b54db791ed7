// 16-bit float conversions on the CPU: IEEE half (f16) and bfloat16 (bf16), round-to-nearest-even like
// torch's .half() / .bfloat16(). Values are the raw 16-bit patterns as numbers (0..65535).
// On the GPU the same patterns are packed two per u32 (element 2i in the low half), i.e. a Uint16Array's
// little-endian memory as it is.

const f32Box = new Float32Array(1);
const u32Box = new Uint32Array(f32Box.buffer);

export function f32ToF16(value: number): number {
  f32Box[0] = value;
  const x = u32Box[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0); // inf, or a quiet NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // beyond 65504 (after rounding below): inf
  if (e <= 0) {
    // subnormal half: m·2⁻²⁴ with m = (1.mant)·2^(e−1) in units of 2⁻²⁴, i.e. drop 14 − e bits
    if (e < -10) return sign; // below half the smallest subnormal: ±0
    mant |= 0x800000;
    const shift = 14 - e;
    let m = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && m & 1)) m++;
    return sign | m;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // a carry into the exponent is still right (up to inf)
  return sign | h;
}

export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

export function f32ToBf16(value: number): number {
  f32Box[0] = value;
  const x = u32Box[0];
  if ((x & 0x7fffffff) > 0x7f800000) return (x >>> 16) | 0x40; // NaN stays a (quiet) NaN
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16ToF32(h: number): number {
  u32Box[0] = (h & 0xffff) << 16;
  return f32Box[0];
}

/** Whole-array forms. */
export const toF16 = (a: ArrayLike<number>) => Uint16Array.from(a as ArrayLike<number>, f32ToF16);
export const toBf16 = (a: ArrayLike<number>) => Uint16Array.from(a as ArrayLike<number>, f32ToBf16);
export const fromF16 = (a: Uint16Array) => Float32Array.from(a, f16ToF32);
export const fromBf16 = (a: Uint16Array) => Float32Array.from(a, bf16ToF32);
