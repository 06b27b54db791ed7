import { describe, expect, it } from 'vitest';
import { argmax, sampleToken } from '../../src/engine/model/sampling';
import { seededRandom } from '../../src/engine/adapters/lora';

describe('sampling', () => {
  const logits = Float32Array.from([0.5, 2.0, -1.0, 1.9, 0.0]);
  it('greedy is argmax', () => {
    expect(argmax(logits)).toBe(1);
    expect(sampleToken(logits, { greedy: true }, () => 0.99)).toBe(1);
    expect(sampleToken(logits, { temperature: 0 }, () => 0.99)).toBe(1);
  });
  it('top-k 2 only ever picks the two best', () => {
    const rand = seededRandom(7);
    const seen = new Set<number>();
    for (let i = 0; i < 400; i++) seen.add(sampleToken(logits, { temperature: 1, topK: 2 }, rand));
    expect([...seen].sort()).toEqual([1, 3]);
  });
  it('top-p keeps the smallest nucleus reaching p', () => {
    // p(1) ≈ 0.41, p(3) ≈ 0.37: p = 0.5 needs both, p = 0.3 only the first
    const rand = seededRandom(3);
    const a = new Set<number>(), b = new Set<number>();
    for (let i = 0; i < 400; i++) a.add(sampleToken(logits, { topP: 0.5 }, rand));
    for (let i = 0; i < 100; i++) b.add(sampleToken(logits, { topP: 0.3 }, rand));
    expect([...a].sort()).toEqual([1, 3]);
    expect([...b]).toEqual([1]);
  });
  it('sampling frequencies follow softmax(logits / temperature)', () => {
    const rand = seededRandom(11);
    const n = 20000, t = 0.7;
    const counts = new Array(5).fill(0);
    for (let i = 0; i < n; i++) counts[sampleToken(logits, { temperature: t }, rand)]++;
    const e = Array.from(logits, (x) => Math.exp(x / t));
    const z = e.reduce((a, b) => a + b, 0);
    for (let i = 0; i < 5; i++) expect(Math.abs(counts[i] / n - e[i] / z)).toBeLessThan(0.015);
  });
  it('the same seed gives the same sequence', () => {
    const r1 = seededRandom(5), r2 = seededRandom(5);
    const s1 = Array.from({ length: 50 }, () => sampleToken(logits, { temperature: 1.3, topK: 4, topP: 0.9 }, r1));
    const s2 = Array.from({ length: 50 }, () => sampleToken(logits, { temperature: 1.3, topK: 4, topP: 0.9 }, r2));
    expect(s1).toEqual(s2);
  });
});
