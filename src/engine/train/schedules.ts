// Learning-rate schedules, exactly as transformers' get_{constant,linear,cosine}_schedule_with_warmup
// (optimization.py). Each returns the multiplier λ(step) applied to the base lr, where `step` counts the
// optimizer steps already taken: the k-th optimizer step (1-based) uses lr·λ(k − 1), because the Trainer
// calls scheduler.step() after optimizer.step(). So with warmup > 0 the first step runs at lr 0, as in HF.

export type ScheduleName = 'constant' | 'linear' | 'cosine';

export interface ScheduleOptions {
  /** the schedule's shape */
  name: ScheduleName;
  /** number of warmup steps (linear ramp from 0) */
  warmup: number;
  /** total optimizer steps (num_training_steps) */
  total: number;
  /** cosine only: number of cosine half-waves, transformers' default 0.5 */
  numCycles?: number;
}

/** λ(step) for `step` = number of optimizer steps already taken (0-based). */
export function lrLambda(opts: ScheduleOptions, step: number): number {
  const { name, warmup, total } = opts;
  // get_*_schedule_with_warmup: float(current_step) / float(max(1, num_warmup_steps)) while warming up
  if (step < warmup) return step / Math.max(1, warmup);
  switch (name) {
    case 'constant':
      return 1.0;
    case 'linear':
      // max(0.0, float(num_training_steps - current_step) / float(max(1, num_training_steps - num_warmup_steps)))
      return Math.max(0, (total - step) / Math.max(1, total - warmup));
    case 'cosine': {
      const cycles = opts.numCycles ?? 0.5;
      const progress = (step - warmup) / Math.max(1, total - warmup);
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * cycles * 2 * progress)));
    }
    default:
      throw new Error(`unknown schedule '${name as string}' (constant, linear or cosine)`);
  }
}

/** The learning rate of optimizer step `k` (1-based), i.e. base·λ(k − 1). */
export function lrAtStep(baseLr: number, opts: ScheduleOptions, k: number): number {
  return baseLr * lrLambda(opts, k - 1);
}

export function isScheduleName(s: string): s is ScheduleName {
  return s === 'constant' || s === 'linear' || s === 'cosine';
}
