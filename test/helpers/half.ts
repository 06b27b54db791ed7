// Test-only 16-bit float converters (round to nearest even), so the matmul/linear tests do not depend on
// src/engine/util/half.ts. Exact for every finite value; NaN/Inf are kept (NaN quietened).

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function toBf16(x: number): number {
  f32[0] = x;
  const b = u32[0];
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff)) return (b >>> 16) | 0x40;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

export function fromBf16(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0];
}

export function toF16(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow → ±0
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && (m & 1))) m++;
    return sign | m;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++; // may carry into the exponent: still correct
  return sign | h;
}

export function fromF16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Rounds `src` to 16-bit values of the given type: the bits, and the f32 values they stand for. */
export function to16(src: Float32Array, type: 'f16' | 'bf16'): { bits: Uint16Array; values: Float32Array } {
  const bits = new Uint16Array(src.length);
  const values = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    bits[i] = type === 'f16' ? toF16(src[i]) : toBf16(src[i]);
    values[i] = type === 'f16' ? fromF16(bits[i]) : fromBf16(bits[i]);
  }
  return { bits, values };
}
