// `weblora eval | train | generate | merge`: the engine headless in Node (Dawn through the `webgpu` package).
// The flags and the --json lines are a contract (issue 3): keep them exactly. Progress goes to stderr; any error is
// one line `weblora: error: …` and exit code 1, never a stack trace (WEBLORA_DEBUG=1 prints the stack too).
import { mkdir, writeFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Gpu } from './gpu/runtime';
import { nodeDirSource } from './io/files';
import { loadModelFiles } from './io/model-files';
import { resolveShipped } from './io/shipped';
import { parseDataset, tokenizeExample, makeBatch, padIdFor } from './data';
import { CausalLM } from './model/causal-lm';
import { LoraModule, type LoraOptions } from './adapters/lora';
import { loraplusGroups, LORAPLUS_DEFAULT_RATIO } from './adapters/loraplus';
import { LoraFaModule, loraFaOptimizer } from './adapters/lorafa';
import { DoraModule } from './adapters/dora';
import { VeraModule, makeVeraProjections } from './adapters/vera';
import { isVeraConfigText, readVeraAdapter, serializeVeraAdapter, type VeraAdapter } from './io/peft-vera';
import type { AdapterModule, AdapterParam, LinearInfo } from './adapters/types';
import { mergeLoraIntoModel, readLoraAdapter, serializeLoraAdapter, type LoraAdapter, type LoraLayerWeights } from './io/peft';
import { Trainer, evaluateLoss, type Batch, type TrainOptions } from './train/trainer';
import { isScheduleName } from './train/schedules';

class UsageError extends Error {}

// ---------- flags ----------

type FlagKind = 'string' | 'int' | 'number' | 'bool';
type Spec = Record<string, FlagKind>;

const COMMANDS: Record<string, { spec: Spec; required: string[]; usage: string }> = {
  eval: {
    spec: { model: 'string', adapter: 'string', data: 'string', seq: 'int', batch: 'int', json: 'bool' },
    required: ['model', 'data', 'seq'],
    usage: 'weblora eval --model DIR [--adapter DIR] --data FILE --seq N [--batch B] [--json]',
  },
  train: {
    spec: {
      model: 'string', data: 'string', method: 'string', rank: 'int', alpha: 'number', rslora: 'bool', targets: 'string',
      'init-adapter': 'string', steps: 'int', batch: 'int', seq: 'int', lr: 'number', schedule: 'string', warmup: 'int',
      'weight-decay': 'number', 'max-grad-norm': 'number', 'grad-accum': 'int', 'no-shuffle': 'bool', seed: 'int',
      out: 'string', json: 'bool', 'adam-beta1': 'number', 'adam-beta2': 'number', 'adam-eps': 'number', 'log-every': 'int',
      'loraplus-ratio': 'number', 'projection-seed': 'int', 'd-initial': 'number',
    },
    required: ['model', 'data', 'steps', 'batch', 'seq', 'lr', 'out'],
    usage:
      'weblora train --model DIR --data FILE --method lora|loraplus|lorafa|dora|vera [--loraplus-ratio 16] [--projection-seed K --d-initial D] [--rank R] [--alpha A] [--rslora] [--targets q_proj,v_proj,...] ' +
      '[--init-adapter DIR] --steps S --batch B --seq N --lr LR [--schedule constant|linear|cosine] [--warmup W] ' +
      '[--weight-decay D] [--max-grad-norm G] [--grad-accum K] [--no-shuffle] [--seed K] --out DIR [--json]',
  },
  generate: {
    spec: {
      model: 'string', adapter: 'string', prompt: 'string', 'prompt-ids': 'string', 'max-new-tokens': 'int', greedy: 'bool',
      temperature: 'number', 'top-k': 'int', 'top-p': 'number', seed: 'int', json: 'bool', 'ignore-eos': 'bool',
    },
    required: ['model', 'max-new-tokens'],
    usage: 'weblora generate --model DIR [--adapter DIR] (--prompt TEXT | --prompt-ids 1,2,3) --max-new-tokens N [--greedy] [--temperature T --top-k K --top-p P --seed S] [--ignore-eos] [--json]',
  },
  merge: {
    spec: { model: 'string', adapter: 'string', out: 'string' },
    required: ['model', 'adapter', 'out'],
    usage: 'weblora merge --model DIR --adapter DIR --out DIR',
  },
};

export type Flags = Record<string, string | number | boolean | undefined>;

export function parseFlags(cmd: string, argv: string[]): Flags {
  const { spec, required } = COMMANDS[cmd];
  const out: Flags = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument '${a}' for ${cmd} (see: weblora ${cmd} --help)`);
    let name = a.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) [name, value] = [name.slice(0, eq), name.slice(eq + 1)];
    const kind = spec[name];
    if (!kind) throw new UsageError(`unknown flag --${name} for ${cmd} (see: weblora ${cmd} --help)`);
    if (name in out) throw new UsageError(`--${name} given twice`);
    if (kind === 'bool') {
      if (value !== undefined) throw new UsageError(`--${name} takes no value`);
      out[name] = true;
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length || (argv[i + 1].startsWith('--') && kind === 'string')) throw new UsageError(`--${name} needs a value`);
      value = argv[++i];
    }
    if (kind === 'string') out[name] = value;
    else {
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} wants a number, got '${value}'`);
      if (kind === 'int' && !Number.isInteger(n)) throw new UsageError(`--${name} wants an integer, got '${value}'`);
      out[name] = n;
    }
  }
  for (const r of required) if (out[r] === undefined) throw new UsageError(`${cmd} needs --${r} (see: weblora ${cmd} --help)`);
  return out;
}

function positive(flags: Flags, name: string, min = 1) {
  const v = flags[name];
  if (v !== undefined && (v as number) < min) throw new UsageError(`--${name} must be ≥ ${min}, got ${v}`);
}

// ---------- output ----------

/** One JSON line with Python's json.dumps separators (", " and ": "), as the contract prints them. */
export function jsonLine(obj: Record<string, unknown>): string {
  return '{' + Object.entries(obj).map(([k, v]) => `${JSON.stringify(k)}: ${Array.isArray(v) ? '[' + v.map((x) => JSON.stringify(x)).join(', ') + ']' : JSON.stringify(v)}`).join(', ') + '}';
}

/** Where lines go: stdout (results, --json lines) and stderr (progress, errors). Tests swap it for capture. */
export interface Sink {
  out(line: string): void;
  err(line: string): void;
}
const processSink: Sink = { out: (l) => void process.stdout.write(l + '\n'), err: (l) => void process.stderr.write(l + '\n') };
let sink: Sink = processSink;
const log = (msg: string) => sink.err(msg);
const emit = (line: string) => sink.out(line);

// One GPU per process: a second command in the same process (tests) reuses the device and its compiled pipelines.
let sharedGpu: Promise<Gpu> | null = null;
function getGpu(): Promise<Gpu> {
  return (sharedGpu ??= Gpu.create());
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '?';
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return (h ? `${h}:${String(m).padStart(2, '0')}` : `${m}`) + `:${String(sec).padStart(2, '0')}`;
}

// ---------- shared steps ----------

async function mustExist(p: string, what: string, kind: 'dir' | 'file') {
  let st;
  try {
    st = await stat(p);
  } catch {
    throw new UsageError(`${what} ${p} does not exist`);
  }
  if (kind === 'dir' && !st.isDirectory()) throw new UsageError(`${what} ${p} is not a folder`);
  if (kind === 'file' && !st.isFile()) throw new UsageError(`${what} ${p} is not a file`);
}

async function loadModel(gpu: Gpu, dir: string, maxBatch: number, maxSeq: number) {
  await mustExist(dir, '--model', 'dir');
  log(`loading ${dir}`);
  const files = await loadModelFiles(nodeDirSource(dir));
  const model = await CausalLM.load(gpu, files as any, { maxBatch, maxSeq });
  log(`loaded ${files.modelConfig.hfArchitecture}: ${files.modelConfig.layers} layers, hidden ${files.modelConfig.hidden}, ${(model.frozenBytes() / 2 ** 20).toFixed(1)} MiB frozen`);
  return { model, files };
}

/** LoRA modules from a PEFT adapter folder, matched to the model's linear layers. */
type LoraMaker = (gpu: Gpu, layer: LinearInfo, maxTokens: number, opts: LoraOptions) => LoraModule;
const makeLora: LoraMaker = (gpu, layer, maxTokens, opts) => new LoraModule(gpu, layer, maxTokens, opts);
const makeDora: LoraMaker = (gpu, layer, maxTokens, opts) => new DoraModule(gpu, layer, maxTokens, opts);

/** VeRA modules for every layer of a VeRA adapter (projections sliced per layer, λ set from the file). */
function veraModules(gpu: Gpu, model: CausalLM, adapter: VeraAdapter, maxTokens: number, where: string): Map<string, VeraModule> {
  const layers = new Map(model.linearLayers().map((l) => [l.name, l]));
  const proj = { r: adapter.config.r, maxIn: adapter.maxIn, maxOut: adapter.maxOut, A: adapter.A, B: adapter.B };
  const modules = new Map<string, VeraModule>();
  for (const [name, w] of adapter.layers) {
    const layer = layers.get(name) ?? layers.get(`transformer.${name}`);
    if (!layer) throw new Error(`${where}: the adapter adapts ${name}, which this model does not have`);
    const m = new VeraModule(gpu, layer, maxTokens, proj, adapter.config.dInitial);
    m.setLambdas(gpu, w.lambdaD, w.lambdaB);
    modules.set(layer.name, m);
  }
  model.setAdapters(modules);
  log(`VeRA adapter ${where}: ${modules.size} layers, r=${adapter.config.r}`);
  return modules;
}

async function isVeraDir(dir: string): Promise<boolean> {
  try {
    return isVeraConfigText(await nodeDirSource(dir).readText('adapter_config.json'));
  } catch {
    return false;
  }
}

async function loadAdapter(gpu: Gpu, model: CausalLM, dir: string, maxTokens: number, make: LoraMaker = makeLora): Promise<{ adapter: LoraAdapter; modules: Map<string, LoraModule> }> {
  const adapter = await readLoraAdapter(nodeDirSource(dir), dir);
  if (adapter.config.dora) make = makeDora; // a DoRA file always loads as DoRA (eval, generate, train --method dora)
  const layers = new Map(model.linearLayers().map((l) => [l.name, l]));
  const modules = new Map<string, LoraModule>();
  for (const [name, w] of adapter.layers) {
    const layer = layers.get(name) ?? layers.get(`transformer.${name}`);
    if (!layer) throw new Error(`${dir}: the adapter adapts ${name}, which this model does not have`);
    if (layer.inDim !== w.inDim || layer.outDim !== w.outDim)
      throw new Error(`${dir}: ${name} is [${layer.outDim}, ${layer.inDim}] in the model but the adapter has lora_B [${w.outDim}, ${w.r}], lora_A [${w.r}, ${w.inDim}]`);
    const m = make(gpu, layer, maxTokens, { r: w.r, alpha: adapter.config.alpha, rslora: adapter.config.rslora });
    m.setWeights(w.A, w.B);
    if (m instanceof DoraModule) m.setMagnitude(gpu, w.magnitude!);
    modules.set(layer.name, m);
  }
  model.setAdapters(modules);
  log(`adapter ${dir}: ${modules.size} layers, r=${adapter.config.r}, alpha=${adapter.config.alpha}${adapter.config.rslora ? ', rsLoRA' : ''}${adapter.config.dora ? ', DoRA' : ''}`);
  return { adapter, modules };
}

async function loadData(file: string, tokenizer: any, seq: number, padId: number) {
  await mustExist(file, '--data', 'file');
  const { readFile } = await import('node:fs/promises');
  const text = await readFile(file, 'utf8');
  const examples = parseDataset(text, path.basename(file));
  if (!examples.length) throw new Error(`${file}: no examples`);
  // {text}: encode(text) with the tokenizer's special tokens, truncated to seq, every token a target, no eos
  // appended: the contract's eval ("each example ... truncated to N tokens") and the PyTorch fixtures do exactly
  // this. Other formats (prompt/completion, Alpaca, messages) go through tokenizeExample (prompt masked).
  const tokenized = examples.map((ex: any) => {
    if ('text' in ex) {
      const all: number[] = tokenizer.encode(ex.text, { addSpecialTokens: true });
      const ids = all.slice(0, seq);
      return { ids, labels: ids.slice(), promptTokens: 0, truncated: all.length > seq };
    }
    return tokenizeExample(ex, tokenizer, seq);
  });
  const batch = (indices: number[]): Batch => {
    const b = makeBatch(indices.map((i) => tokenized[i]), indices.length, seq, padId);
    return { ids: b.ids, labels: b.labels, nLabelTokens: b.nLabelTokens };
  };
  return { count: tokenized.length, batch };
}

function padIdOf(files: any): number {
  return padIdFor(files.tokenizer);
}

// ---------- commands ----------

async function cmdEval(f: Flags) {
  positive(f, 'seq');
  positive(f, 'batch');
  const seq = f.seq as number;
  const B = (f.batch as number) ?? 4;
  await mustExist(f.model as string, '--model', 'dir');
  await mustExist(f.data as string, '--data', 'file');
  if (f.adapter) await mustExist(f.adapter as string, '--adapter', 'dir');
  const gpu = await getGpu();
  const { model, files } = await loadModel(gpu, f.model as string, B, seq);
  if (f.adapter && (await isVeraDir(f.adapter as string))) veraModules(gpu, model, await readVeraAdapter(nodeDirSource(f.adapter as string), f.adapter as string), B * seq, f.adapter as string);
  else if (f.adapter) await loadAdapter(gpu, model, f.adapter as string, B * seq);
  const data = await loadData(f.data as string, files.tokenizer, seq, padIdOf(files));
  log(`eval: ${data.count} examples, seq ${seq}`);
  const { loss, tokens } = await evaluateLoss(gpu, model, data, B, seq);
  if (f.json) emit(jsonLine({ loss, tokens }));
  else emit(`loss ${loss.toFixed(6)} over ${tokens} tokens (perplexity ${Math.exp(loss).toFixed(3)})`);
}

const DEFAULT_TARGETS: Record<string, string[]> = { llama: ['q_proj', 'v_proj'], qwen2: ['q_proj', 'v_proj'], gpt2: ['c_attn'] };

async function cmdTrain(f: Flags) {
  const method = (f.method as string) ?? 'lora';
  if (!['lora', 'loraplus', 'lorafa', 'dora', 'vera'].includes(method)) throw new UsageError(`--method ${method} is not supported (lora, loraplus, lorafa, dora, vera; rsLoRA with --rslora)`);
  if (method !== 'vera') for (const k of ['projection-seed', 'd-initial']) if (f[k] !== undefined) throw new UsageError(`--${k} applies to --method vera only`);
  if (method === 'vera') for (const k of ['alpha', 'rslora']) if (f[k] !== undefined) throw new UsageError(`--${k} does not apply to --method vera (VeRA has no α scaling)`);
  if (f['loraplus-ratio'] !== undefined && method !== 'loraplus') throw new UsageError('--loraplus-ratio applies to --method loraplus only');
  if (f['loraplus-ratio'] !== undefined && !((f['loraplus-ratio'] as number) > 0)) throw new UsageError('--loraplus-ratio must be > 0');
  const make: LoraMaker = method === 'lorafa' ? (g, l, t, o) => new LoraFaModule(g, l, t, o) : method === 'dora' ? makeDora : makeLora;
  for (const k of ['steps', 'batch', 'seq', 'grad-accum', 'rank', 'log-every']) positive(f, k);
  for (const k of ['warmup', 'weight-decay', 'max-grad-norm', 'lr']) positive(f, k, 0);
  const schedule = (f.schedule as string) ?? 'linear';
  if (!isScheduleName(schedule)) throw new UsageError(`--schedule must be constant, linear or cosine, got '${schedule}'`);
  const B = f.batch as number, seq = f.seq as number, steps = f.steps as number;
  const out = f.out as string;
  await mustExist(f.model as string, '--model', 'dir');
  await mustExist(f.data as string, '--data', 'file');
  if (f['init-adapter']) await mustExist(f['init-adapter'] as string, '--init-adapter', 'dir');

  const gpu = await getGpu();
  const { model, files } = await loadModel(gpu, f.model as string, B, seq);
  const cfg = files.modelConfig;
  let modules: Map<string, LoraModule> = new Map();
  let config: { r: number; alpha: number; rslora: boolean; targets: string[] } = { r: 0, alpha: 0, rslora: false, targets: [] };
  let vera: { adapter: VeraAdapter; modules: Map<string, VeraModule> } | null = null;
  if (method === 'vera') {
    let adapter: VeraAdapter;
    const initDir = f['init-adapter'] as string | undefined;
    if (initDir) {
      if (!(await isVeraDir(initDir))) throw new UsageError(`--method vera needs a VeRA adapter (peft_type VERA) as --init-adapter`);
      adapter = await readVeraAdapter(nodeDirSource(initDir), initDir);
      if (f.rank !== undefined && f.rank !== adapter.config.r) throw new UsageError(`--rank ${f.rank} contradicts --init-adapter's r ${adapter.config.r}`);
    } else {
      const r = (f.rank as number) ?? 256; // PEFT's VeraConfig default
      const targets = f.targets ? (f.targets as string).split(',').map((s) => s.trim()).filter(Boolean) : DEFAULT_TARGETS[cfg.arch];
      const chosen = model.linearLayers().filter((l: LinearInfo) => targets.some((t) => l.name === t || l.name.endsWith('.' + t)));
      if (!chosen.length) throw new UsageError(`--targets ${targets.join(',')} match no linear layer of this model`);
      const maxIn = Math.max(...chosen.map((l) => l.inDim)), maxOut = Math.max(...chosen.map((l) => l.outDim));
      const seedP = (f['projection-seed'] as number) ?? 0, dInitial = (f['d-initial'] as number) ?? 0.1;
      const proj = makeVeraProjections(r, maxIn, maxOut, seedP);
      adapter = {
        config: { r, targetModules: targets, projectionSeed: seedP, dInitial, fanInFanOut: cfg.arch === 'gpt2', baseModel: f.model as string },
        A: proj.A, B: proj.B, maxIn, maxOut,
        layers: new Map(chosen.map((l) => [l.name, { lambdaD: new Float32Array(r).fill(dInitial), lambdaB: new Float32Array(l.outDim) }])),
      };
    }
    vera = { adapter, modules: veraModules(gpu, model, adapter, B * seq, initDir ?? 'new') };
  } else if (f['init-adapter']) {
    const { adapter, modules: m } = await loadAdapter(gpu, model, f['init-adapter'] as string, B * seq, make);
    // the adapter's config decides r, alpha, rsLoRA and the targets; flags may repeat them, not contradict them
    const c = adapter.config;
    const clash = (k: string, given: unknown, has: unknown) => {
      if (given !== undefined && given !== has) throw new UsageError(`--${k} ${given} contradicts --init-adapter's ${k} ${has}`);
    };
    if (!!c.dora !== (method === 'dora')) throw new UsageError(`--method ${method} contradicts --init-adapter (use_dora ${!!c.dora})`);
    clash('rank', f.rank, c.r);
    clash('alpha', f.alpha, c.alpha);
    if (f.rslora && !c.rslora) throw new UsageError('--rslora contradicts --init-adapter (use_rslora false)');
    if (f.targets) {
      const t = (f.targets as string).split(',').map((x) => x.trim()).filter(Boolean).sort().join(',');
      if (t !== [...c.targetModules].sort().join(',')) throw new UsageError(`--targets ${f.targets} contradicts --init-adapter's target_modules ${c.targetModules.join(',')}`);
    }
    modules = m;
    config = { r: adapter.config.r, alpha: adapter.config.alpha, rslora: adapter.config.rslora, targets: adapter.config.targetModules };
  } else {
    const r = (f.rank as number) ?? 8;
    const alpha = (f.alpha as number) ?? 8; // PEFT's LoraConfig defaults: r=8, lora_alpha=8
    const targets = f.targets ? (f.targets as string).split(',').map((s) => s.trim()).filter(Boolean) : DEFAULT_TARGETS[cfg.arch];
    const chosen = model.linearLayers().filter((l: LinearInfo) => targets.some((t) => l.name === t || l.name.endsWith('.' + t)));
    if (!chosen.length) throw new UsageError(`--targets ${targets.join(',')} match no linear layer of this model (it has ${[...new Set(model.linearLayers().map((l) => l.shortName))].join(', ')})`);
    modules = new Map();
    for (const l of chosen) modules.set(l.name, make(gpu, l, B * seq, { r, alpha, rslora: !!f.rslora, seed: (f.seed as number) ?? 42 }));
    for (const m of modules.values()) if (m instanceof DoraModule) await m.initMagnitude(gpu);
    model.setAdapters(modules);
    config = { r, alpha, rslora: !!f.rslora, targets };
    log(`new LoRA r=${r} alpha=${alpha}${f.rslora ? ' (rsLoRA)' : ''} on ${modules.size} layers (${targets.join(', ')})`);
  }
  const data = await loadData(f.data as string, files.tokenizer, seq, padIdOf(files));
  const params: AdapterParam[] = [...modules.values(), ...(vera?.modules.values() ?? [])].flatMap((m: AdapterModule) => m.params());
  // method-specific optimizer options (LoRA+ groups, LoRA-FA's projected update)
  let methodOpt: Pick<TrainOptions, 'groups' | 'beforeUpdate'> = {};
  if (method === 'loraplus') methodOpt = { groups: loraplusGroups((f['loraplus-ratio'] as number) ?? LORAPLUS_DEFAULT_RATIO) };
  if (method === 'lorafa') {
    const fa = [...modules.values()] as LoraFaModule[];
    for (const m of fa) await m.prepare(gpu);
    methodOpt = loraFaOptimizer(fa);
  }

  const trainer = new Trainer(gpu, model, params, data, {
    steps, batch: B, seq, lr: f.lr as number, schedule, warmup: (f.warmup as number) ?? 0,
    gradAccum: (f['grad-accum'] as number) ?? 1, shuffle: !f['no-shuffle'], seed: (f.seed as number) ?? 42,
    weightDecay: (f['weight-decay'] as number) ?? 0, maxGradNorm: (f['max-grad-norm'] as number) ?? 1.0,
    beta1: (f['adam-beta1'] as number) ?? 0.9, beta2: (f['adam-beta2'] as number) ?? 0.999, eps: (f['adam-eps'] as number) ?? 1e-8,
    readEvery: (f['log-every'] as number) ?? 10,
    ...methodOpt,
  });
  log(`training ${steps} steps of ${B}×${seq} tokens${trainer['opts'].gradAccum > 1 ? ` × ${trainer['opts'].gradAccum} accumulated` : ''}, ${data.count} examples, ${trainer.optimizer.size} trainable parameters`);
  let interrupted = false;
  const onSig = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    trainer.stopped = true;
    log('interrupted: finishing the current step and saving the adapter (Ctrl-C again to quit now)');
  };
  process.on('SIGINT', onSig);
  await trainer.run(
    (recs) => {
      if (f.json) for (const r of recs) emit(jsonLine({ step: r.step, loss: r.loss, lr: r.lr }));
      const bad = recs.find((r) => !Number.isFinite(r.loss));
      if (bad) throw new Error(`the loss became ${bad.loss} at step ${bad.step}: training diverged (lower --lr, or clip with --max-grad-norm); no adapter written`);
    },
    (p) => log(`step ${p.step}/${p.steps}  loss ${p.loss.toFixed(4)}  lr ${p.lr.toExponential(3)}  ${Math.round(p.tokensPerSec)} tok/s  elapsed ${fmtTime(p.elapsedSec)}  ETA ${fmtTime(p.etaSec)}`),
  );
  process.off('SIGINT', onSig);

  if (vera) {
    const { adapter } = vera;
    for (const [name, m] of vera.modules) {
      const { d, b } = await m.getLambdas(gpu);
      adapter.layers.set(adapter.layers.has(name) ? name : name.replace(/^transformer\./, ''), { lambdaD: d, lambdaB: b });
    }
    const bytes = serializeVeraAdapter(adapter);
    await mkdir(out, { recursive: true });
    for (const [name, b] of Object.entries(bytes)) await writeFile(path.join(out, name), b);
    log(`wrote ${out}/adapter_config.json and adapter_model.safetensors (VeRA, ${trainer.stepsDone} steps)`);
    return;
  }
  const layers = new Map<string, LoraLayerWeights>();
  for (const [name, m] of modules) {
    const { A, B: Bw } = await m.getWeights();
    const magnitude = m instanceof DoraModule ? await m.getMagnitude(gpu) : undefined;
    layers.set(name, { module: name, r: m.r, inDim: m.layer.inDim, outDim: m.layer.outDim, A, B: Bw, ...(magnitude ? { magnitude } : {}) });
  }
  const fileBytes = serializeLoraAdapter({
    config: {
      r: config.r, alpha: config.alpha, rslora: config.rslora, targetModules: config.targets,
      fanInFanOut: cfg.arch === 'gpt2', baseModel: f.model as string, dora: method === 'dora',
    },
    layers,
  });
  await mkdir(out, { recursive: true });
  for (const [name, bytes] of Object.entries(fileBytes)) await writeFile(path.join(out, name), bytes);
  log(`wrote ${out}/adapter_config.json and adapter_model.safetensors (${trainer.stepsDone} steps)`);
}

async function cmdGenerate(f: Flags) {
  if ((f.prompt === undefined) === (f['prompt-ids'] === undefined)) throw new UsageError('generate needs exactly one of --prompt TEXT or --prompt-ids 1,2,3');
  positive(f, 'max-new-tokens');
  positive(f, 'top-k');
  if (f['top-p'] !== undefined && !((f['top-p'] as number) > 0 && (f['top-p'] as number) <= 1)) throw new UsageError('--top-p must be in (0, 1]');
  if (f.temperature !== undefined && (f.temperature as number) < 0) throw new UsageError('--temperature must be ≥ 0');
  let ids: number[] | null = null;
  if (f['prompt-ids'] !== undefined) {
    ids = (f['prompt-ids'] as string).split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 0) throw new UsageError(`--prompt-ids: '${s}' is not a token id`);
      return n;
    });
    if (!ids.length) throw new UsageError('--prompt-ids is empty');
  }
  const maxNew = f['max-new-tokens'] as number;
  const dir = f.model as string;
  await mustExist(dir, '--model', 'dir');
  if (f.adapter) await mustExist(f.adapter as string, '--adapter', 'dir');
  const gpu = await getGpu();
  // the model's buffers are sized for the longest pass: the prompt plus every new token, one sequence
  const files = await loadModelFiles(nodeDirSource(dir));
  const tok = files.tokenizer as any;
  if (!ids) ids = tok.encode(f.prompt as string, { addSpecialTokens: true });
  if (!ids!.length) throw new UsageError('the prompt encodes to no tokens');
  for (const id of ids!) if (id >= files.modelConfig.vocabSize) throw new UsageError(`--prompt-ids: ${id} is outside the vocabulary (${files.modelConfig.vocabSize})`);
  const model = await CausalLM.load(gpu, files as any, { maxBatch: 1, maxSeq: ids!.length + maxNew });
  if (f.adapter && (await isVeraDir(f.adapter as string))) veraModules(gpu, model, await readVeraAdapter(nodeDirSource(f.adapter as string), f.adapter as string), ids!.length + maxNew, f.adapter as string);
  else if (f.adapter) await loadAdapter(gpu, model, f.adapter as string, ids!.length + maxNew);
  const greedy = !!f.greedy || f.temperature === 0;
  const outIds = await model.generate(ids!, {
    maxNewTokens: maxNew, greedy, temperature: (f.temperature as number) ?? 1, topK: f['top-k'] as number | undefined,
    topP: f['top-p'] as number | undefined, seed: (f.seed as number) ?? 0,
    ...(f['ignore-eos'] ? { eosTokenIds: [] } : {}),
  });
  const text = tok.decode(outIds, { skipSpecialTokens: true });
  if (f.json) emit(jsonLine({ ids: outIds, text }));
  else emit(text);
}

async function cmdMerge(f: Flags) {
  const dir = f.model as string, out = f.out as string;
  await mustExist(dir, '--model', 'dir');
  await mustExist(f.adapter as string, '--adapter', 'dir');
  if (path.resolve(out) === path.resolve(dir)) throw new UsageError('--out must differ from --model');
  const adapter = await readLoraAdapter(nodeDirSource(f.adapter as string), f.adapter as string);
  log(`merging ${adapter.layers.size} LoRA layers into ${dir}`);
  let files = 0;
  await mergeLoraIntoModel(nodeDirSource(dir), adapter, async (name, bytes) => {
    const p = path.join(out, name);
    await mkdir(path.dirname(p), { recursive: true });
    await writeFile(p, bytes);
    files++;
  });
  log(`wrote merged model to ${out} (${files} files)`);
}

// ---------- main ----------

const HELP = `weblora: LoRA fine-tuning on WebGPU\n\n${Object.values(COMMANDS).map((c) => '  ' + c.usage).join("\n")}`;

export async function main(argv: string[], to: Sink = processSink): Promise<number> {
  const [cmd, ...rest] = argv;
  sink = to;
  try {
    if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
      emit(HELP);
      return cmd ? 0 : 1;
    }
    if (!(cmd in COMMANDS)) throw new UsageError(`unknown command '${cmd}' (eval, train, generate, merge)`);
    if (rest.includes('--help') || rest.includes('-h')) {
      emit(COMMANDS[cmd].usage);
      return 0;
    }
    const flags = await resolveShipped(parseFlags(cmd, rest));
    if (cmd === 'eval') await cmdEval(flags);
    else if (cmd === 'train') await cmdTrain(flags);
    else if (cmd === 'generate') await cmdGenerate(flags);
    else await cmdMerge(flags);
    return 0;
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, ' | ').trim();
    sink.err(`weblora: error: ${msg}`);
    if (process.env.WEBLORA_DEBUG && e instanceof Error) sink.err(`${e.stack}`);
    return 1;
  } finally {
    sink = processSink;
  }
}

/** Runs main and exits with its code (Dawn keeps the event loop alive, so leave explicitly once stdout is flushed). */
export function runAndExit(argv: string[]) {
  main(argv).then(
    (code) => process.stdout.write('', () => process.exit(code)),
    (e) => {
      process.stderr.write(`weblora: error: ${String(e?.message ?? e).split('\n')[0]}\n`);
      process.exit(1);
    },
  );
}

// `node dist/cli.js …` runs it; bin/weblora.mjs imports runAndExit; tests import main.
const invoked = process.argv[1] ? path.basename(process.argv[1]) : '';
if (invoked === 'cli.js') runAndExit(process.argv.slice(2));
