// Every method by its --method name, and loading any PEFT adapter file by what its adapter_config.json says.
import type { FileSource } from '../io/files';
import { METHOD_NAMES, resolveOptions, type MethodContext, type MethodName, type MethodRun, type MethodSpec } from './method';
import { loraMethod } from './lora';
import { loraplusMethod } from './loraplus';
import { lorafaMethod } from './lorafa';
import { doraMethod } from './dora';
import { veraMethod } from './vera';
import { adaloraMethod } from './adalora';
import { loradropMethod } from './loradrop';
import { deltaloraMethod } from './deltalora';

export const METHODS: Partial<Record<MethodName, MethodSpec>> = {
  lora: loraMethod,
  loraplus: loraplusMethod,
  vera: veraMethod,
  lorafa: lorafaMethod,
  loradrop: loradropMethod,
  adalora: adaloraMethod,
  dora: doraMethod,
  deltalora: deltaloraMethod,
};

/** The methods available, in the order. */
export function availableMethods(): MethodSpec[] {
  return METHOD_NAMES.flatMap((n) => (METHODS[n] ? [METHODS[n]!] : []));
}

export function methodSpec(name: string): MethodSpec {
  const spec = (METHODS as Record<string, MethodSpec | undefined>)[name];
  if (!spec) throw new Error(`--method ${name} is not supported (${availableMethods().map((m) => m.name).join(', ')}; rsLoRA with --rslora)`);
  return spec;
}

export async function readAdapterConfig(files: FileSource, where: string): Promise<Record<string, unknown>> {
  const names = await files.list();
  for (const f of ['adapter_config.json', 'adapter_model.safetensors']) if (!names.includes(f)) throw new Error(`${where}: missing ${f}`);
  try {
    return JSON.parse(await files.readText('adapter_config.json'));
  } catch (e) {
    throw new Error(`${where}/adapter_config.json is not JSON: ${(e as Error).message}`);
  }
}

/** The method that writes files like these: the first (in --method order) whose matchesConfig accepts the config. */
export function methodForConfig(config: Record<string, unknown>, where: string): MethodSpec {
  const spec = availableMethods().find((m) => m.load && m.matchesConfig?.(config));
  if (!spec) throw new Error(`${where}: adapter type ${String(config.peft_type)}${config.use_dora ? ' (DoRA)' : ''} is not supported`);
  return spec;
}

/** Any PEFT adapter (LoRA, DoRA, VeRA, AdaLoRA, ...) as a run of its own method, for eval and generate. */
export async function loadAnyAdapter(ctx: MethodContext, files: FileSource, where: string): Promise<{ spec: MethodSpec; run: MethodRun }> {
  const spec = methodForConfig(await readAdapterConfig(files, where), where);
  return { spec, run: await spec.load!({ ...ctx, options: resolveOptions(spec, {}) }, files, where) };
}
