// float64 references for RoPE: inv_freq straight from transformers' formulas (no float32 rounding), and the
// rotate_half rotation of x [B, T, H, D] given a cos/sin table (the values the GPU reads).

export function invFreqRef(
  headDim: number, theta: number,
  scaling?: { factor: number; low_freq_factor: number; high_freq_factor: number; original_max_position_embeddings: number },
): Float64Array {
  const inv = Float64Array.from({ length: headDim / 2 }, (_, i) => 1 / theta ** ((2 * i) / headDim));
  if (!scaling) return inv;
  const { factor, low_freq_factor: low, high_freq_factor: high, original_max_position_embeddings: old } = scaling;
  return inv.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < old / high) return f; // high frequencies: unchanged
    if (wavelen > old / low) return f / factor; // low frequencies: interpolated by the full factor
    const smooth = (old / wavelen - low) / (high - low);
    return (1 - smooth) * (f / factor) + smooth * f;
  });
}

/** x [B, T, H, D] rotated by +θ (or −θ when inverse) at positions posStart + t. */
export function ropeRef(
  x: ArrayLike<number>, table: ArrayLike<number>, maxSeq: number,
  s: { batch: number; seq: number; heads: number; headDim: number; posStart?: number; inverse?: boolean },
): Float64Array {
  const half = s.headDim / 2;
  const out = Float64Array.from(x);
  for (let b = 0; b < s.batch; b++)
    for (let t = 0; t < s.seq; t++)
      for (let h = 0; h < s.heads; h++) {
        const base = ((b * s.seq + t) * s.heads + h) * s.headDim;
        const pos = (s.posStart ?? 0) + t;
        for (let i = 0; i < half; i++) {
          const c = table[pos * half + i];
          const sn = (s.inverse ? -1 : 1) * table[(maxSeq + pos) * half + i];
          const x1 = x[base + i], x2 = x[base + half + i];
          out[base + i] = x1 * c - x2 * sn;
          out[base + half + i] = x2 * c + x1 * sn;
        }
      }
  return out;
}
