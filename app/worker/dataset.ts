// The dataset as the worker keeps it: records → examples (bad rows listed, never dropped silently) → tokens with the
// model's tokenizer → a seeded train / validation split → micro-batches for the trainer and the evaluator.
import { makeBatch, padIdFor } from '../../src/engine/data/batch';
import { tokenizeExamples } from '../../src/engine/data/dataset';
import { epochPermutation } from '../../src/engine/data/batch';
import type { Example } from '../../src/engine/data/formats';
import type { TokenizedExample } from '../../src/engine/data/tokenize';
import type { TextTokenizer } from '../../src/engine/io/tokenizer';
import { splitRecords, toExample } from './records';
import type { BadRow, DataFormat, DataOptions, DatasetInfo, PreviewRow } from './types';

export interface BatchSource {
  count: number;
  batch(indices: number[]): { ids: Uint32Array; labels: Int32Array; nLabelTokens: number };
}

export interface PreparedDataset {
  info: DatasetInfo;
  train: BatchSource;
  /** the validation examples that are evaluated (at most valMax) */
  val: BatchSource;
}

interface Good {
  line: number;
  example: Example;
  format: DataFormat;
  tok: TokenizedExample;
}

const PREVIEW_ROWS = 6;
const SAMPLE_PROMPTS = 2;

function batchSource(rows: Good[], seq: number, padId: number): BatchSource {
  return {
    count: rows.length,
    batch(indices) {
      const b = makeBatch(indices.map((i) => rows[i].tok), indices.length, seq, padId);
      return { ids: b.ids, labels: b.labels, nLabelTokens: b.nLabelTokens };
    },
  };
}

/** A prompt for sample generations: the example's prompt, the chat up to the answer, or a text's first words. */
function promptOf(ex: Example, tok: TextTokenizer): string | null {
  if ('messages' in ex) return tok.hasChatTemplate ? tok.applyChatTemplate(ex.messages.slice(0, -1), { addGenerationPrompt: true }) : null;
  if ('completion' in ex) return ex.prompt || null;
  const words = ex.text.split(/(\s+)/).slice(0, 7).join('');
  return words.trim() ? words : null;
}

/** Never throws for bad rows: a file without one usable example comes back with examples 0 and its errors. */
export function prepareDataset(name: string, text: string, tok: TextTokenizer, o: DataOptions): PreparedDataset {
  const parsed = splitRecords(text, name);
  const errors: BadRow[] = [...parsed.errors];
  const padId = padIdFor(tok);
  const good: Good[] = [];
  const counts: Partial<Record<DataFormat, number>> = {};
  const candidates: { line: number; example: Example; format: DataFormat }[] = [];
  if (parsed.textExamples) {
    if (o.format !== 'auto' && o.format !== 'text') errors.push({ line: 1, message: `a plain-text file holds text, not ${o.format} records` });
    else for (const t of parsed.textExamples) candidates.push({ ...t, format: 'text' });
  }
  for (const rec of parsed.records) {
    try {
      candidates.push({ line: rec.line, ...toExample(rec, o.format, `${name}:${rec.line}`) });
    } catch (e) {
      errors.push({ line: rec.line, message: stripWhere((e as Error).message, name, rec.line) });
    }
  }
  for (const c of candidates) {
    try {
      const tokd = tokenizeExamples([c.example], tok, o.seq, padId, { maskPrompt: o.maskPrompt }).examples[0];
      if (!tokd.labels.some((l, i) => i > 0 && l !== -100)) throw new Error(`nothing left to train on within ${o.seq} tokens (the prompt fills the sequence)`);
      good.push({ ...c, tok: tokd });
      counts[c.format] = (counts[c.format] ?? 0) + 1;
    } catch (e) {
      errors.push({ line: c.line, message: stripWhere((e as Error).message, name, c.line) });
    }
  }
  if (!good.length && !errors.length) errors.push({ line: 1, message: 'the file holds no examples' });
  errors.sort((a, b) => a.line - b.line);

  // seeded split: the same file, percentage and seed always hold out the same examples
  const n = good.length;
  const nVal = o.valPercent > 0 && n >= 2 ? Math.min(n - 1, Math.max(1, Math.round((n * o.valPercent) / 100))) : 0;
  const perm = epochPermutation(n, o.seed, 0);
  const valIdx = [...perm.slice(0, nVal)].sort((a, b) => a - b);
  const valSet = new Set(valIdx);
  const trainRows = good.filter((_, i) => !valSet.has(i));
  const valRows = valIdx.map((i) => good[i]);
  const valEval = valRows.slice(0, Math.max(0, o.valMax));

  const lens = good.length ? good.map((g) => g.tok.ids.length) : [0];
  const decode = (ids: number[]) => tok.decode(ids, { skipSpecialTokens: false });
  const preview: PreviewRow[] = good.slice(0, PREVIEW_ROWS).map((g) => ({
    line: g.line, format: g.format, masked: decode(g.tok.ids.slice(0, g.tok.promptTokens)), trained: decode(g.tok.ids.slice(g.tok.promptTokens)),
    tokens: g.tok.ids.length, maskedTokens: g.tok.promptTokens, truncated: g.tok.truncated,
  }));
  const samplePrompts = (valRows.length ? valRows : trainRows).map((g) => promptOf(g.example, tok)).filter((p): p is string => !!p).slice(0, SAMPLE_PROMPTS);
  const kinds = Object.keys(counts) as DataFormat[];
  const info: DatasetInfo = {
    name, bytes: text.length, detected: kinds.length === 1 ? kinds[0] : 'mixed', counts, examples: n,
    train: trainRows.length, val: valRows.length, valEvaluated: valEval.length, errors, preview,
    tokens: {
      mean: lens.reduce((a, b) => a + b, 0) / Math.max(1, n), max: Math.max(...lens), truncated: good.filter((g) => g.tok.truncated).length,
      trainedTokens: good.reduce((a, g) => a + g.tok.labels.filter((l) => l !== -100).length, 0),
    },
    samplePrompts,
  };
  return { info, train: batchSource(trainRows, o.seq, padId), val: batchSource(valEval, o.seq, padId) };
}

/** "file:12: what" → "what" (the line is shown in its own column). */
function stripWhere(msg: string, name: string, line: number): string {
  const prefix = `${name}:${line}: `;
  return msg.startsWith(prefix) ? msg.slice(prefix.length) : msg;
}
