// The models and datasets that ship with WebLoRA under public/, reachable by name from the CLI
// (`--model demo`, `--data demo-define`) so a fresh clone can fine-tune something at once, offline.
// Node only: the app fetches the same files from its own origin. Hub models (hf:owner/name) resolve here too.
import type { Flags } from '../cli';

export const SHIPPED_MODELS: Record<string, string> = {
  demo: 'models/weblora-demo',
  'demo-tiny': 'models/weblora-demo-tiny',
};
export const SHIPPED_DATASETS: Record<string, string> = {
  'demo-style': 'datasets/demo-style.jsonl',
  'demo-define': 'datasets/demo-define.jsonl',
  'demo-define-eval': 'datasets/demo-define-eval.jsonl',
};

/** The package's public/ folder: found by walking up from this module (src/ or the dist/ bundle). */
async function publicDir(): Promise<string> {
  const { existsSync } = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
  const path = await import('node:path');
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(path.join(dir, 'public', 'models')) && existsSync(path.join(dir, 'package.json'))) return path.join(dir, 'public');
    dir = path.dirname(dir);
  }
  throw new Error('the shipped demo files (public/models, public/datasets) were not found next to this installation');
}

/**
 * Replaces shipped names in --model and --data with their paths, and a Hub model (--model hf:owner/name, or an
 * owner/name that is no local folder) with its cache folder, downloading it first (endpoint: --hub-endpoint, else
 * $HF_ENDPOINT; token: $HF_TOKEN). The Hub repo id is kept as flags['model-id'] (for base_model_name_or_path).
 * Any other value is left as given.
 */
export async function resolveShipped(flags: Flags, log: (line: string) => void = (l) => void process.stderr.write(l + '\n')): Promise<Flags> {
  const model = typeof flags.model === 'string' ? SHIPPED_MODELS[flags.model] : undefined;
  const data = typeof flags.data === 'string' ? SHIPPED_DATASETS[flags.data] : undefined;
  if (!model && typeof flags.model === 'string') {
    const { resolveHubModel } = await import('./hub-node.ts');
    const hub = await resolveHubModel(flags.model, { endpoint: flags['hub-endpoint'] as string | undefined, log });
    if (hub) flags = { ...flags, model: hub.dir, 'model-id': hub.repo };
  }
  if (!model && !data) return flags;
  const root = await publicDir();
  const path = await import('node:path');
  return { ...flags, ...(model && { model: path.join(root, model) }), ...(data && { data: path.join(root, data) }) };
}
