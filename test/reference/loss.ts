// float64 reference for cross-entropy with ignore_index (-100, or any label outside [0, vocab)).

/** rowLoss[r] = scale·(logsumexp(x_r) − x_r[label_r]); dlogits = scale·(softmax(x_r) − onehot) (zeros when ignored). */
export function crossEntropyRef(logits: ArrayLike<number>, labels: ArrayLike<number>, rows: number, vocab: number, scale: number) {
  const rowLoss = new Float64Array(rows);
  const dlogits = new Float64Array(rows * vocab);
  for (let r = 0; r < rows; r++) {
    const label = labels[r];
    if (label < 0 || label >= vocab) continue;
    let m = -Infinity;
    for (let v = 0; v < vocab; v++) m = Math.max(m, logits[r * vocab + v]);
    let s = 0;
    for (let v = 0; v < vocab; v++) s += Math.exp(logits[r * vocab + v] - m);
    const lse = m + Math.log(s);
    rowLoss[r] = scale * (lse - logits[r * vocab + label]);
    for (let v = 0; v < vocab; v++) dlogits[r * vocab + v] = scale * (Math.exp(logits[r * vocab + v] - lse) - (v === label ? 1 : 0));
  }
  return { rowLoss, dlogits };
}
