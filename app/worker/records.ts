// A dataset file → records with their line numbers, every bad row kept with its reason (the engine's
// splitDatasetRecords; the CLI stops at the first one, the page lists them all). What is the page's own: plain-text
// files come back as examples (they hold text, whatever format is picked), an empty file says so, and each record
// → an Example of the detected or chosen format.
import { recordToExample, splitDatasetRecords, alpacaPrompt, type Example, type RawRecord } from '../../src/engine/data/formats';
import type { BadRow, DataFormat } from './types';

export type { RawRecord };

export interface Parsed {
  /** JSON / CSV records, or examples already (plain text files) */
  records: RawRecord[];
  textExamples: { line: number; example: Example }[] | null;
  errors: BadRow[];
}

/** Splits a file into records (JSONL, JSON, CSV/TSV) or plain-text examples (TXT, MD), keeping every error. */
export function splitRecords(raw: string, fileName: string): Parsed {
  const { kind, records, errors } = splitDatasetRecords(raw, fileName);
  if (kind !== 'text') return { records, textExamples: null, errors };
  if (!records.length) return { records: [], textExamples: [], errors: [{ line: 1, message: 'the file is empty' }] };
  const textExamples = records.map(({ value, line }) => ({ line, example: recordToExample(value, `${fileName}:${line}`) }));
  return { records: [], textExamples, errors };
}

/** The shape a record has by its fields (as recordToExample reads them), or null. */
export function recordFormat(value: unknown): DataFormat | null {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
  const r = value as Record<string, unknown>;
  if ('messages' in r) return 'chat';
  if ('prompt' in r || 'completion' in r) return 'prompt-completion';
  if ('instruction' in r || 'output' in r) return 'alpaca';
  if ('text' in r) return 'text';
  return null;
}

const FIELDS: Record<DataFormat, string> = {
  text: '"text"',
  'prompt-completion': '"prompt" and "completion"',
  alpaca: '"instruction", "output" (and optionally "input")',
  chat: '"messages"',
};

/**
 * One record as `format` (or as its own fields with 'auto'). Reading prompt/completion or Alpaca records as
 * 'text' joins prompt and answer into one text, so every token is trained.
 */
export function toExample(rec: RawRecord, format: 'auto' | DataFormat, where: string): { example: Example; format: DataFormat } {
  const own = recordFormat(rec.value);
  if (format === 'auto' || format === own) return { example: recordToExample(rec.value, where), format: own ?? 'text' };
  if (format === 'text' && (own === 'prompt-completion' || own === 'alpaca')) {
    const ex = recordToExample(rec.value, where) as { prompt?: string; completion: string };
    return { example: { text: (ex.prompt ?? '') + ex.completion, source: where }, format: 'text' };
  }
  throw new Error(`${where}: expected ${FIELDS[format]} for the ${format} format, this row has ${own ? FIELDS[own] : 'no known fields'}`);
}

export { alpacaPrompt };
