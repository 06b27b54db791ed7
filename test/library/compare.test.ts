import { describe, expect, it } from 'vitest';
import { bestOf, chartRows, differences, runLabel, trainKey, valKey, type CompareRun } from '../../app/library/compare';
import { SETTINGS } from './helpers';

const run = (id: string, over: Partial<CompareRun> = {}): CompareRun => ({
  id, name: id, method: 'lora', history: [], stats: { tokensPerSec: null, trainableParams: null }, finalTrainLoss: null, finalValLoss: null, ...over,
});

describe('compare', () => {
  it('merges histories by step, with validation points, and strides long runs keeping the last step', () => {
    const a = run('a', { history: [{ step: 1, loss: 3, lr: 0 }, { step: 2, loss: 2, lr: 0, valLoss: 2.5 }] });
    const b = run('b', { history: Array.from({ length: 10 }, (_, i) => ({ step: i + 1, loss: 10 - i, lr: 0 })) });
    const rows = chartRows([a, b], { smoothing: 0, maxPoints: 4 });
    expect(rows.map((r) => r.step)).toEqual([1, 2, 4, 7, 10]);
    expect(rows[0]).toEqual({ step: 1, [trainKey('a')]: 3, [trainKey('b')]: 10 });
    expect(rows[1]).toEqual({ step: 2, [trainKey('a')]: 2, [valKey('a')]: 2.5 });
    expect(rows[4]).toEqual({ step: 10, [trainKey('b')]: 1 });
  });

  it('smooths the training loss but never the validation loss', () => {
    const a = run('a', { history: [{ step: 1, loss: 4, lr: 0 }, { step: 2, loss: 0, lr: 0, valLoss: 1 }] });
    const [r1, r2] = chartRows([a], { smoothing: 0.5, maxPoints: 100 });
    expect(r1[trainKey('a')]).toBe(4);
    expect(r2[trainKey('a')]).toBeCloseTo((0.5 * 0.5 * 4) / 0.75, 12);
    expect(r2[valKey('a')]).toBe(1);
  });

  it('marks the best run per column only among finished runs that have the number', () => {
    const runs = [
      run('fast', { stats: { tokensPerSec: 900, peakMemoryBytes: 5e8, trainableParams: 1e6 }, finalTrainLoss: 2.1 }),
      run('small', { stats: { tokensPerSec: 700, peakMemoryBytes: 3e8, trainableParams: 1e4 }, finalTrainLoss: 2.3, finalValLoss: 2.4 }),
      run('live', { live: true, stats: { tokensPerSec: 5000, trainableParams: 1 }, finalTrainLoss: 0.1 }),
    ];
    expect(bestOf(runs)).toEqual({ tokensPerSec: 'fast', peakMemoryBytes: 'small', trainableParams: 'small', finalTrainLoss: 'fast' });
  });

  it('says in what the runs differ', () => {
    const same = [run('a', { settings: SETTINGS, baseModel: 'm', dataName: 'd' }), run('b', { method: 'dora', settings: { ...SETTINGS, method: 'dora' }, baseModel: 'm', dataName: 'd' })];
    expect(differences(same)).toEqual([]);
    const other = [...same, run('c', { settings: { ...SETTINGS, batch: 4, seed: 2 }, baseModel: 'm2', dataName: 'e' })];
    expect(differences(other)).toEqual(['base model', 'training data', 'batch × sequence', 'seed']);
  });

  it('labels runs with method and rank', () => {
    expect(runLabel(run('a', { method: 'dora', settings: { ...SETTINGS, r: 16 } }))).toBe('DoRA r=16');
    expect(runLabel(run('b', { method: 'vera', adapter: { peftType: 'VERA', r: 256, alpha: null, rslora: false, targets: [] } }))).toBe('VeRA r=256');
  });
});

describe('compare defaults', () => {
  it('first shows the newest run and those trained like it', async () => {
    const { defaultSelection, axisTicks } = await import('../../app/library/compare');
    const h = [{ step: 1, loss: 1, lr: 0 }];
    const runs = [
      run('new', { history: h, settings: SETTINGS, baseModel: 'm' }),
      run('other-model', { history: h, settings: SETTINGS, baseModel: 'x' }),
      run('no-curve', { settings: SETTINGS, baseModel: 'm' }),
      run('same', { history: h, method: 'dora', settings: SETTINGS, baseModel: 'm' }),
    ];
    expect(defaultSelection(runs)).toEqual(['new', 'same']);
    // a newer run unlike the others does not hide a comparable pair
    expect(defaultSelection([run('odd', { history: h, settings: { ...SETTINGS, steps: 99 }, baseModel: 'm' }), ...runs])).toEqual(['new', 'same']);
    expect(defaultSelection(runs.slice(0, 2))).toEqual(['new', 'other-model']);
    expect(defaultSelection([run('a')])).toEqual([]);
    const ax = axisTicks([2.95, 4.62, NaN])!;
    expect(ax.domain[0]).toBeCloseTo(2.8665, 10);
    expect(ax.domain[1]).toBeCloseTo(4.7035, 10);
    expect(ax.ticks).toEqual([3, 3.5, 4, 4.5]);
    expect(axisTicks([])).toBeNull();
  });
});
