// LoRA+ (arXiv 2402.12354): plain LoRA modules, but B learns `ratio` times faster than A. As PEFT's
// create_loraplus_optimizer: groups [A: lr, wd] [B and every 1-D trainable tensor: lr·ratio, wd]
// (PEFT's embedding group is empty for LoRA on linears; its "B no-decay" group holds only biases, which LoRA lacks).
// The modules are LoraModule (group 'A' / 'B'); only the optimizer's groups change.
import type { AdamWOptions } from '../train/optimizer';
import type { MethodSpec } from './method';
import { countLoraParams, isLoraConfig, loadLoraRun, makeLora, newLoraRun, type LoraRun } from './lora-run';

export const LORAPLUS_DEFAULT_RATIO = 16;

/** AdamW group overrides for LoRA+: B (and 1-D params, grouped 'B' by their modules) at lr × ratio. */
export function loraplusGroups(ratio: number): NonNullable<AdamWOptions['groups']> {
  if (!(ratio > 0)) throw new Error(`LoRA+ lr ratio must be > 0, got ${ratio}`);
  return { A: { lrScale: 1 }, B: { lrScale: ratio } };
}

const withGroups = (run: LoraRun, ratio: number): LoraRun => ({ ...run, optimizer: { groups: loraplusGroups(ratio) }, describe: `${run.describe}; B's lr × ${ratio}` });

export const loraplusMethod: MethodSpec = {
  name: 'loraplus',
  title: 'LoRA+',
  summary: "LoRA whose B matrices learn faster than A (--loraplus-ratio times A's learning rate).",
  options: { 'loraplus-ratio': { kind: 'number', default: LORAPLUS_DEFAULT_RATIO, above: 0, help: "B's learning rate over A's" } },
  countParams: (layers, c) => countLoraParams(layers, c.r),
  create: async (ctx) => withGroups(await newLoraRun(ctx, makeLora, 'LoRA+'), ctx.options['loraplus-ratio'] as number),
  matchesConfig: (c) => isLoraConfig(c, false),
  load: async (ctx, files, where) => withGroups(await loadLoraRun(ctx, files, where, makeLora, 'LoRA+'), ctx.options['loraplus-ratio'] as number),
};
