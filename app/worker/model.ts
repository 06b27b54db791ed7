// Loading a base model in the worker (demo, dropped folder, Hub download) into CPU memory, and describing it for the
// model card: architecture, parameter count, dtype, context, the adaptable linear layers with their real names.
// The GPU copy (CausalLM) is made at training time, sized for the chosen batch × sequence length.
import { loadModelFiles, type ModelFiles } from '../../src/engine/io/model-files';
import { DEFAULT_TARGETS } from '../../src/engine/train/session';
import type { FileSource } from '../../src/engine/io/files';
import type { ModelConfig } from '../../src/engine/model/config';
import { DEMO_FOLDERS, countingSource, pathFilesSource, siteSource } from './sources';
import type { LinearShape, LoadProgress, ModelInfo, ModelSource } from './types';

export interface LoadedModel {
  files: ModelFiles;
  info: ModelInfo;
  /** kept so a checkpoint can be resumed / the library can reload the same model */
  source: FileSource;
}

/** Hub downloads through src/engine/io/hub.ts, kept in Cache Storage so a reload does not download again. */
async function hubSource(repo: string, endpoint: string | undefined, token: string | undefined, onProgress: (p: LoadProgress) => void, signal?: AbortSignal): Promise<FileSource> {
  const { downloadHubModel } = await import('../../src/engine/io/hub');
  const cache = typeof caches !== 'undefined' ? await caches.open('weblora-hub') : undefined;
  return downloadHubModel(repo, {
    endpoint: endpoint || undefined,
    token: token || undefined,
    signal,
    cache: cache && { match: (k) => cache.match(k), put: (k, r) => cache.put(k, r) },
    onProgress: (p) =>
      onProgress({
        phase: 'download', file: p.file, loaded: p.bytesDone, total: p.bytesTotal || null, bytesPerSec: p.bytesPerSec,
        filesDone: p.filesDone, filesTotal: p.filesTotal, cached: p.cached,
      }),
  });
}

export async function loadModel(src: ModelSource, onProgress: (p: LoadProgress) => void, signal?: AbortSignal): Promise<LoadedModel> {
  let source: FileSource;
  let id: string, label: string;
  if (src.kind !== 'files' && src.kind !== 'hub') {
    source = siteSource(DEMO_FOLDERS[src.kind]);
    id = src.kind === 'demo' ? 'weblora-demo' : 'weblora-demo-tiny';
    label = src.kind === 'demo' ? 'WebLoRA demo (built in)' : 'WebLoRA demo-tiny (built in)';
  } else if (src.kind === 'files') {
    if (!src.files.length) throw new Error('No files were dropped. Drop the model folder itself (with config.json and model.safetensors).');
    source = pathFilesSource(src.files);
    const root = src.files[0].path.includes('/') ? src.files[0].path.split('/')[0] : 'dropped files';
    id = root;
    label = `${root} (from your disk)`;
  } else {
    source = await hubSource(src.repo.trim(), src.endpoint, src.token, onProgress, signal);
    id = src.repo.trim();
    label = `${id} (Hugging Face Hub)`;
  }
  const total = src.kind === 'files' ? src.files.reduce((a, f) => a + f.file.size, 0) : null;
  const counted = countingSource(source, (bytes, file) => onProgress({ phase: 'read', file, loaded: bytes, total }));
  const files = await loadModelFiles(counted);
  onProgress({ phase: 'parse', loaded: total ?? 0, total });
  return { files, info: describe(files, id, label, src.kind), source };
}

/** The adaptable linear layers, named and shaped as the engine's blocks (llama.ts, gpt2.ts) build them. */
export function linearShapes(c: ModelConfig): LinearShape[] {
  const out: LinearShape[] = [];
  const C = c.hidden, I = c.intermediate, HD = c.heads * c.headDim, KVD = c.kvHeads * c.headDim;
  for (let l = 0; l < c.layers; l++) {
    const rows: [string, number, number][] =
      c.arch === 'gpt2'
        ? [['attn.c_attn', C, 3 * C], ['attn.c_proj', C, C], ['mlp.c_fc', C, I], ['mlp.c_proj', I, C]]
        : [['self_attn.q_proj', C, HD], ['self_attn.k_proj', C, KVD], ['self_attn.v_proj', C, KVD], ['self_attn.o_proj', HD, C],
           ['mlp.gate_proj', C, I], ['mlp.up_proj', C, I], ['mlp.down_proj', I, C]];
    const prefix = c.arch === 'gpt2' ? `transformer.h.${l}` : `model.layers.${l}`;
    for (const [n, inDim, outDim] of rows) out.push({ name: `${prefix}.${n}`, shortName: n.split('.').pop()!, inDim, outDim });
  }
  return out;
}

function describe(files: ModelFiles, id: string, label: string, source: ModelInfo['source']): ModelInfo {
  const c = files.modelConfig;
  let params = 0, weightBytes = 0;
  const dtypes = new Map<string, number>();
  for (const t of files.tensors.values()) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    params += n;
    weightBytes += t.data.byteLength;
    dtypes.set(t.dtype, (dtypes.get(t.dtype) ?? 0) + n);
  }
  const linears = linearShapes(c);
  const moduleNames = [...new Set(linears.map((l) => l.shortName))];
  return {
    id, label, source, arch: c.arch, hfArchitecture: c.hfArchitecture, params,
    dtype: [...dtypes.entries()].sort((a, b) => b[1] - a[1]).map(([d]) => d).join(', '),
    weightBytes, contextLength: c.maxPositions, layers: c.layers, hidden: c.hidden, heads: c.heads, kvHeads: c.kvHeads,
    intermediate: c.intermediate, vocabSize: c.vocabSize, moduleNames, linears,
    defaultTargets: DEFAULT_TARGETS[c.arch] ?? ['q_proj', 'v_proj'],
    hasChatTemplate: !!files.tokenizer?.hasChatTemplate,
  };
}
