// `weblora eval | train | generate | merge`: the engine headless in Node (Dawn through the `webgpu` package).
// The flags and the --json lines are a contract (issue 3): keep them exactly. Progress goes to stderr; any error is
// one line `weblora: error: …` and exit code 1, never a stack trace (WEBLORA_DEBUG=1 prints the stack too).
import { mkdir, writeFile, stat, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Gpu } from './gpu/runtime';
import { nodeDirSource } from './io/files';
import { loadModelFiles } from './io/model-files';
import { resolveShipped } from './io/shipped';
import { tokenizeDataset, padIdFor } from './data';
import { CausalLM } from './model/causal-lm';
import { loadAnyAdapter, methodSpec } from './adapters/registry';
import { selectLayers, type CommonHyper } from './adapters/method';
import { mergeLoraIntoModel, readLoraAdapter } from './io/peft';
import { evaluateLoss } from './train/trainer';
import { TrainingSession, noDropoutMessage, readCheckpointInfo, type SessionSettings } from './train/session';
import { isScheduleName } from './train/schedules';
import { COMMANDS, UsageError, jsonLine, methodFlags, parseFlags, positive, type Flags } from './cli-flags';

export { parseFlags, jsonLine, type Flags };

// ---------- output ----------

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
const getGpu = (): Promise<Gpu> => Gpu.shared();

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

/** Any PEFT adapter folder (LoRA, DoRA, VeRA, AdaLoRA, ...) set on the model, for eval and generate. */
async function loadAdapter(gpu: Gpu, model: CausalLM, dir: string, maxTokens: number) {
  await mustExist(dir, '--adapter', 'dir');
  const common: CommonHyper = { r: 0, alpha: 0, rslora: false, targets: [], seed: 0, steps: 0, baseModel: '', fanInFanOut: false };
  const ctx = { gpu, model, layers: model.linearLayers(), maxTokens, common, options: {}, log };
  const { run } = await loadAnyAdapter(ctx, nodeDirSource(dir), dir);
  model.setAdapters(run.modules);
  log(run.describe);
}

async function loadData(file: string, tokenizer: any, seq: number, padId: number) {
  await mustExist(file, '--data', 'file');
  return tokenizeDataset(await readFile(file, 'utf8'), path.basename(file), tokenizer, seq, padId);
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
  if (f.adapter) await loadAdapter(gpu, model, f.adapter as string, B * seq);
  const data = await loadData(f.data as string, files.tokenizer, seq, padIdFor(files.tokenizer as any));
  log(`eval: ${data.count} examples, seq ${seq}`);
  const { loss, tokens } = await evaluateLoss(gpu, model, data, B, seq);
  if (f.json) emit(jsonLine({ loss, tokens }));
  else emit(`loss ${loss.toFixed(6)} over ${tokens} tokens (perplexity ${Math.exp(loss).toFixed(3)})`);
}

/** The session's settings from the flags (and, with --resume, the checkpoint's: flags may extend --steps). */
async function trainSettings(f: Flags): Promise<SessionSettings> {
  let base: Partial<SessionSettings> = {};
  if (f.resume) {
    await mustExist(f.resume as string, '--resume', 'dir');
    base = (await readCheckpointInfo(nodeDirSource(f.resume as string), f.resume as string)).settings;
    if (f.method !== undefined && f.method !== base.method) throw new UsageError(`--method ${f.method} contradicts --resume's method ${base.method}`);
  } else for (const k of ['steps', 'batch', 'seq', 'lr']) if (f[k] === undefined) throw new UsageError(`train needs --${k} (see: weblora train --help)`);
  const method = (f.method as string) ?? base.method ?? 'lora';
  let spec;
  try {
    spec = methodSpec(method);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  for (const [flag, { method: owner }] of methodFlags()) if (f[flag] !== undefined && !(flag in spec.options)) throw new UsageError(`--${flag} applies to --method ${owner} only`);
  for (const k of spec.rejects ?? []) if (f[k] !== undefined) throw new UsageError(k === 'lora-dropout' ? noDropoutMessage(spec) : `--${k} does not apply to --method ${method}`);
  const dropout = f['lora-dropout'] as number | undefined;
  if (dropout !== undefined && !(dropout >= 0 && dropout < 1)) throw new UsageError(`--lora-dropout must be in [0, 1), got ${dropout}`);
  for (const k of ['steps', 'batch', 'seq', 'grad-accum', 'rank', 'log-every']) positive(f, k);
  for (const k of ['warmup', 'weight-decay', 'max-grad-norm', 'lr']) positive(f, k, 0);
  const schedule = (f.schedule as string) ?? base.schedule ?? 'linear';
  if (!isScheduleName(schedule)) throw new UsageError(`--schedule must be constant, linear or cosine, got '${schedule}'`);
  const options: Record<string, number | boolean> = { ...base.options };
  for (const flag of Object.keys(spec.options)) if (f[flag] !== undefined) options[flag] = f[flag] as number | boolean;
  const pick = <T,>(flag: string, key: keyof SessionSettings, dflt?: T): T => (f[flag] ?? base[key] ?? dflt) as T;
  return {
    method: spec.name, r: pick('rank', 'r'), alpha: pick('alpha', 'alpha'), rslora: !!(f.rslora ?? base.rslora), dropout: pick('lora-dropout', 'dropout'),
    targets: f.targets ? (f.targets as string).split(',').map((s) => s.trim()).filter(Boolean) : base.targets,
    seed: pick('seed', 'seed', 42), options, steps: pick('steps', 'steps'), batch: pick('batch', 'batch'), seq: pick('seq', 'seq'),
    lr: pick('lr', 'lr'), schedule, warmup: pick('warmup', 'warmup', 0), gradAccum: pick('grad-accum', 'gradAccum', 1),
    shuffle: f['no-shuffle'] ? false : (base.shuffle ?? true), weightDecay: pick('weight-decay', 'weightDecay', 0),
    maxGradNorm: pick('max-grad-norm', 'maxGradNorm', 1.0), beta1: pick('adam-beta1', 'beta1', 0.9), beta2: pick('adam-beta2', 'beta2', 0.999),
    eps: pick('adam-eps', 'eps', 1e-8), logEvery: pick('log-every', 'logEvery', 10),
  };
}

async function cmdTrain(f: Flags) {
  if (f['init-adapter'] && f.resume) throw new UsageError('give --init-adapter or --resume, not both');
  const settings = await trainSettings(f);
  const out = f.out as string;
  await mustExist(f.model as string, '--model', 'dir');
  await mustExist(f.data as string, '--data', 'file');
  if (f['init-adapter']) await mustExist(f['init-adapter'] as string, '--init-adapter', 'dir');

  const gpu = await getGpu();
  const { model, files } = await loadModel(gpu, f.model as string, settings.batch, settings.seq);
  const cfg = files.modelConfig;
  const data = await loadData(f.data as string, files.tokenizer, settings.seq, padIdFor(files.tokenizer as any));
  const dir = (f['init-adapter'] ?? f.resume) as string | undefined;
  const from = dir ? { files: nodeDirSource(dir), where: dir } : undefined;
  if (!dir && f.targets && !selectLayers(model.linearLayers(), settings.targets!).length)
    throw new UsageError(`--targets ${settings.targets!.join(',')} match no linear layer of this model (it has ${[...new Set(model.linearLayers().map((l) => l.shortName))].join(', ')})`);
  const session = await TrainingSession.create({
    gpu, model, arch: cfg.arch, baseModel: (f['model-id'] ?? f.model) as string, data, settings, log,
    ...(f['init-adapter'] ? { init: from } : {}), ...(f.resume ? { resume: from } : {}),
  });
  // a method's own report (LoRA-drop's importances and selection) as one extra JSON line before the step lines
  const report = (session.method as { report?: unknown }).report;
  if (f.json && report) emit(jsonLine({ [session.spec.name]: report }));
  const { steps, batch, seq, gradAccum = 1 } = settings;
  log(`training ${session.stepsDone ? `steps ${session.stepsDone + 1}–` : ''}${steps} steps of ${batch}×${seq} tokens${gradAccum > 1 ? ` × ${gradAccum} accumulated` : ''}, ${data.count} examples, ${session.trainableParams} trainable parameters`);
  let interrupted = false;
  const onSig = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    session.stop();
    log('interrupted: finishing the current step and saving the adapter (Ctrl-C again to quit now)');
  };
  process.on('SIGINT', onSig);
  try {
    await session.run(
      (recs) => {
        if (f.json) for (const r of recs) emit(jsonLine({ step: r.step, loss: r.loss, lr: r.lr }));
        const bad = recs.find((r) => !Number.isFinite(r.loss));
        if (bad) throw new Error(`the loss became ${bad.loss} at step ${bad.step}: training diverged (lower --lr, or clip with --max-grad-norm); no adapter written`);
      },
      (p) => log(`step ${p.step}/${p.steps}  loss ${p.loss.toFixed(4)}  lr ${p.lr.toExponential(3)}  ${Math.round(p.tokensPerSec)} tok/s  elapsed ${fmtTime(p.elapsedSec)}  ETA ${fmtTime(p.etaSec)}`),
    );
  } finally {
    process.off('SIGINT', onSig);
  }
  const written = await session.checkpoint();
  await mkdir(out, { recursive: true });
  for (const [name, bytes] of Object.entries(written)) await writeFile(path.join(out, name), bytes);
  log(`wrote ${out}/adapter_config.json and adapter_model.safetensors (${session.spec.title}, ${session.stepsDone} steps; weblora.json to resume)`);
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
  if (f.adapter) await loadAdapter(gpu, model, f.adapter as string, ids!.length + maxNew);
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

const help = () => `weblora: LoRA fine-tuning on WebGPU\n\n${Object.values(COMMANDS).map((c) => '  ' + c.usage()).join('\n')}`;

export async function main(argv: string[], to: Sink = processSink): Promise<number> {
  const [cmd, ...rest] = argv;
  sink = to;
  try {
    if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
      emit(help());
      return cmd ? 0 : 1;
    }
    if (!(cmd in COMMANDS)) throw new UsageError(`unknown command '${cmd}' (eval, train, generate, merge)`);
    if (rest.includes('--help') || rest.includes('-h')) {
      emit(COMMANDS[cmd].usage());
      return 0;
    }
    const flags = await resolveShipped(parseFlags(cmd, rest), log);
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
