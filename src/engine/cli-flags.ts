// The CLI's flags (a contract, issue 3: keep them exactly, extend freely) and its output format. Each method's own
// flags come from its MethodSpec (adapters/<method>.ts), so a new method needs no edit here.
import { availableMethods } from './adapters/registry';

export class UsageError extends Error {}

type FlagKind = 'string' | 'int' | 'number' | 'bool';
type Spec = Record<string, FlagKind>;

/** Every method option → its kind and the method it belongs to. */
export function methodFlags(): Map<string, { kind: FlagKind; method: string }> {
  const out = new Map<string, { kind: FlagKind; method: string }>();
  for (const m of availableMethods()) for (const [flag, o] of Object.entries(m.options)) out.set(flag, { kind: o.kind, method: m.name });
  return out;
}

const methodNames = () => availableMethods().map((m) => m.name).join('|');
const methodUsage = () =>
  availableMethods()
    .filter((m) => Object.keys(m.options).length)
    .map((m) => `[${Object.entries(m.options).map(([k, o]) => (o.kind === 'bool' ? `--${k}` : `--${k} ${o.default}`)).join(' ')}]`)
    .join(' ');

export const COMMANDS: Record<string, { spec: Spec; required: string[]; usage: () => string }> = {
  eval: {
    spec: { model: 'string', adapter: 'string', data: 'string', seq: 'int', batch: 'int', json: 'bool', 'hub-endpoint': 'string' },
    required: ['model', 'data', 'seq'],
    usage: () => 'weblora eval --model DIR|hf:OWNER/NAME [--adapter DIR] --data FILE --seq N [--batch B] [--json] [--hub-endpoint URL]',
  },
  train: {
    spec: {
      model: 'string', data: 'string', method: 'string', rank: 'int', alpha: 'number', rslora: 'bool', 'lora-dropout': 'number', targets: 'string',
      'init-adapter': 'string', resume: 'string', steps: 'int', batch: 'int', seq: 'int', lr: 'number', schedule: 'string', warmup: 'int',
      'weight-decay': 'number', 'max-grad-norm': 'number', 'grad-accum': 'int', 'no-shuffle': 'bool', seed: 'int',
      out: 'string', json: 'bool', 'adam-beta1': 'number', 'adam-beta2': 'number', 'adam-eps': 'number', 'log-every': 'int',
      'hub-endpoint': 'string',
    },
    // --steps/--batch/--seq/--lr are required unless --resume gives them (checked in the command)
    required: ['model', 'data', 'out'],
    usage: () =>
      `weblora train --model DIR|hf:OWNER/NAME --data FILE --method ${methodNames()} ${methodUsage()} [--rank R] [--alpha A] [--rslora] [--lora-dropout P] [--targets q_proj,v_proj,...] ` +
      '[--init-adapter DIR | --resume CHECKPOINT_DIR] --steps S --batch B --seq N --lr LR [--schedule constant|linear|cosine] [--warmup W] ' +
      '[--weight-decay D] [--max-grad-norm G] [--grad-accum K] [--no-shuffle] [--seed K] --out DIR [--json] [--hub-endpoint URL]',
  },
  generate: {
    spec: {
      model: 'string', adapter: 'string', prompt: 'string', 'prompt-ids': 'string', 'max-new-tokens': 'int', greedy: 'bool',
      temperature: 'number', 'top-k': 'int', 'top-p': 'number', seed: 'int', json: 'bool', 'ignore-eos': 'bool',
      'hub-endpoint': 'string',
    },
    required: ['model', 'max-new-tokens'],
    usage: () => 'weblora generate --model DIR|hf:OWNER/NAME [--adapter DIR] (--prompt TEXT | --prompt-ids 1,2,3) --max-new-tokens N [--greedy] [--temperature T --top-k K --top-p P --seed S] [--ignore-eos] [--json] [--hub-endpoint URL]',
  },
  merge: {
    spec: { model: 'string', adapter: 'string', out: 'string', 'hub-endpoint': 'string' },
    required: ['model', 'adapter', 'out'],
    usage: () => 'weblora merge --model DIR|hf:OWNER/NAME --adapter DIR --out DIR [--hub-endpoint URL]',
  },
};

export type Flags = Record<string, string | number | boolean | undefined>;

export function parseFlags(cmd: string, argv: string[]): Flags {
  const { required } = COMMANDS[cmd];
  const spec: Spec = { ...COMMANDS[cmd].spec };
  if (cmd === 'train') for (const [flag, { kind }] of methodFlags()) spec[flag] = kind;
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

export function positive(flags: Flags, name: string, min = 1) {
  const v = flags[name];
  if (v !== undefined && (v as number) < min) throw new UsageError(`--${name} must be ≥ ${min}, got ${v}`);
}

/** One JSON line with Python's json.dumps separators (", " and ": "), as the contract prints them. */
export function jsonLine(obj: Record<string, unknown>): string {
  return '{' + Object.entries(obj).map(([k, v]) => `${JSON.stringify(k)}: ${Array.isArray(v) ? '[' + v.map((x) => JSON.stringify(x)).join(', ') + ']' : JSON.stringify(v)}`).join(', ') + '}';
}
