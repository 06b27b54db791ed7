// The run of every method whose adapter is a PEFT `LORA` file (LoRA, rsLoRA, LoRA+, LoRA-FA, DoRA; Delta-LoRA and
// LoRA-drop build on it): one LoraModule (or subclass) per targeted layer, fresh or read from a file, and the export.
// The methods differ only in the module class and the optimizer, which their own files pass in.
import type { FileSource } from '../io/files';
import { readLoraAdapter, serializeLoraAdapter, type LoraAdapterConfig, type LoraLayerWeights } from '../io/peft';
import type { Gpu } from '../gpu/runtime';
import { LoraModule, type LoraOptions } from './lora';
import { namedParams, type MethodContext, type MethodRun } from './method';
import type { LinearInfo } from './types';

export type LoraMaker = (gpu: Gpu, layer: LinearInfo, maxTokens: number, opts: LoraOptions) => LoraModule;
export const makeLora: LoraMaker = (gpu, layer, maxTokens, opts) => new LoraModule(gpu, layer, maxTokens, opts);

export interface LoraRun extends MethodRun {
  loraModules: Map<string, LoraModule>;
  config: LoraAdapterConfig;
}

/** Layers are [out, in] with r·(in + out) LoRA parameters each. */
export function countLoraParams(layers: { inDim: number; outDim: number }[], r: number): number {
  return layers.reduce((a, l) => a + r * (l.inDim + l.outDim), 0);
}

/** A new LoRA-file adapter on ctx.layers (A Kaiming-uniform, B = 0, as PEFT's default init). */
export async function newLoraRun(ctx: MethodContext, make: LoraMaker, title: string, extra: { dora?: boolean } = {}): Promise<LoraRun> {
  const { gpu, common } = ctx;
  if (!ctx.layers.length) throw new Error(`the targets ${common.targets.join(',')} match no linear layer of this model`);
  const modules = new Map<string, LoraModule>();
  const dropout = common.dropout ?? 0;
  for (const l of ctx.layers) modules.set(l.name, make(gpu, l, ctx.maxTokens, { r: common.r, alpha: common.alpha, rslora: common.rslora, seed: common.seed, dropout }));
  for (const m of modules.values()) await m.initNew(gpu);
  const config: LoraAdapterConfig = {
    r: common.r, alpha: common.alpha, rslora: common.rslora, targetModules: common.targets, fanInFanOut: common.fanInFanOut,
    baseModel: common.baseModel, dora: !!extra.dora, dropout,
  };
  return loraRun(modules, config, `new ${title} r=${common.r} alpha=${common.alpha}${common.rslora ? ' (rsLoRA)' : ''}${dropoutNote(dropout)} on ${modules.size} layers (${common.targets.join(', ')})`);
}

const dropoutNote = (p: number) => (p > 0 ? ` dropout=${p}` : '');

/**
 * A LoRA-file adapter read from PEFT files; every adapted module must exist in the model with the same shapes.
 * Dropout: the run's (common.dropout) when given, else the file's lora_dropout.
 */
export async function loadLoraRun(ctx: MethodContext, files: FileSource, where: string, make: LoraMaker, title: string): Promise<LoraRun> {
  const adapter = await readLoraAdapter(files, where);
  const dropout = ctx.common.dropout ?? adapter.config.dropout ?? 0;
  const byName = new Map(ctx.layers.map((l) => [l.name, l]));
  const modules = new Map<string, LoraModule>();
  for (const [name, w] of adapter.layers) {
    const layer = byName.get(name) ?? byName.get(`transformer.${name}`);
    if (!layer) throw new Error(`${where}: the adapter adapts ${name}, which this model does not have`);
    if (layer.inDim !== w.inDim || layer.outDim !== w.outDim)
      throw new Error(`${where}: ${name} is [${layer.outDim}, ${layer.inDim}] in the model but the adapter has lora_B [${w.outDim}, ${w.r}], lora_A [${w.r}, ${w.inDim}]`);
    const m = make(ctx.gpu, layer, ctx.maxTokens, { r: w.r, alpha: adapter.config.alpha, rslora: adapter.config.rslora, seed: ctx.common.seed, dropout });
    m.importLayer(w);
    modules.set(layer.name, m);
  }
  const c = { ...adapter.config, dropout };
  return loraRun(modules, c, `${title} adapter ${where}: ${modules.size} layers, r=${c.r}, alpha=${c.alpha}${c.rslora ? ', rsLoRA' : ''}${c.dora ? ', DoRA' : ''}${dropoutNote(dropout)}`);
}

export function loraRun(modules: Map<string, LoraModule>, config: LoraAdapterConfig, describe: string): LoraRun {
  return {
    modules,
    loraModules: modules,
    config,
    params: [...modules].flatMap(([name, m]) => namedParams(name, m.params())),
    describe,
    async exportAdapter() {
      const layers = new Map<string, LoraLayerWeights>();
      for (const [name, m] of modules) layers.set(name, await m.exportLayer());
      return serializeLoraAdapter({ config, layers });
    },
    // dropout masks drawn so far (one per training micro-batch), so a resumed run draws the masks an uninterrupted one would
    async saveState() {
      const drop = [...modules.values()].find((m) => m.drop)?.drop;
      return { json: drop ? { dropout_masks: drop.counter } : {}, tensors: {} };
    },
    async restoreState(json) {
      if (typeof json.dropout_masks === 'number') for (const m of modules.values()) if (m.drop) m.drop.counter = json.dropout_masks;
    },
  };
}

/** PEFT LORA config (peft_type LORA), with or without use_dora. */
export function isLoraConfig(c: Record<string, unknown>, dora: boolean): boolean {
  return String(c.peft_type ?? '').toUpperCase() === 'LORA' && !!c.use_dora === dora;
}
