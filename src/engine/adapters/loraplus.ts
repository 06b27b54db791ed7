// LoRA+ (arXiv 2402.12354): plain LoRA modules, but B learns `ratio` times faster than A. As PEFT's
// create_loraplus_optimizer: groups [A: lr, wd] [B and every 1-D trainable tensor: lr·ratio, wd]
// (PEFT's embedding group is empty for LoRA on linears; its "B no-decay" group holds only biases, which LoRA lacks).
// The modules are LoraModule (group 'A' / 'B'); only the optimizer's groups change.
import type { AdamWOptions } from '../train/optimizer';

export const LORAPLUS_DEFAULT_RATIO = 16;

/** AdamW group overrides for LoRA+: B (and 1-D params, grouped 'B' by their modules) at lr × ratio. */
export function loraplusGroups(ratio: number): NonNullable<AdamWOptions['groups']> {
  if (!(ratio > 0)) throw new Error(`LoRA+ lr ratio must be > 0, got ${ratio}`);
  return { A: { lrScale: 1 }, B: { lrScale: ratio } };
}
