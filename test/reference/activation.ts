// float64 CPU references for the element-wise activations.
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

export const swigluRef = (gate: ArrayLike<number>, up: ArrayLike<number>) =>
  Float64Array.from(gate, (g, i) => g * sigmoid(g) * up[i]);

export function swigluBackwardRef(dout: ArrayLike<number>, gate: ArrayLike<number>, up: ArrayLike<number>) {
  const dgate = new Float64Array(gate.length);
  const dup = new Float64Array(gate.length);
  for (let i = 0; i < gate.length; i++) {
    const g = gate[i], s = sigmoid(g);
    dgate[i] = dout[i] * up[i] * (s + g * s * (1 - s)); // d(g·σ(g))/dg
    dup[i] = dout[i] * g * s;
  }
  return { dgate, dup };
}

const K = Math.sqrt(2 / Math.PI);
export const geluRef = (x: ArrayLike<number>) =>
  Float64Array.from(x, (v) => 0.5 * v * (1 + Math.tanh(K * (v + 0.044715 * v ** 3))));

export const geluBackwardRef = (dy: ArrayLike<number>, x: ArrayLike<number>) =>
  Float64Array.from(x, (v, i) => {
    const t = Math.tanh(K * (v + 0.044715 * v ** 3));
    return dy[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * K * (1 + 3 * 0.044715 * v * v));
  });
