// A dataset file → records with their line numbers, every bad row kept with its reason (the CLI stops at the first
// one; the page lists them all). Then each record → an Example of the detected or chosen format.
import Papa from 'papaparse';
import { arrayElementOffsets, lineCounter, parseDataset, recordToExample, alpacaPrompt, type Example } from '../../src/engine/data/formats';
import type { BadRow, DataFormat } from './types';

export interface RawRecord {
  line: number;
  value: unknown;
}

export interface Parsed {
  /** JSON / CSV records, or examples already (plain text files) */
  records: RawRecord[];
  textExamples: { line: number; example: Example }[] | null;
  errors: BadRow[];
}

const ext = (name: string) => name.toLowerCase().match(/\.([a-z0-9]+)$/)?.[1] ?? '';

/** JSON's error position ("at position 123") → a line number, when the engine says it. */
function jsonErrorLine(text: string, message: string): number {
  const m = /position (\d+)/.exec(message);
  return m ? lineCounter(text)(Number(m[1])) : 1;
}

function jsonl(text: string): Parsed {
  const records: RawRecord[] = [], errors: BadRow[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      records.push({ line: i + 1, value: JSON.parse(line) });
    } catch (e) {
      errors.push({ line: i + 1, message: `invalid JSON (${(e as Error).message})` });
    }
  });
  return { records, textExamples: null, errors };
}

function json(text: string): Parsed {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    if (text.trimStart().startsWith('{') && text.trim().includes('\n')) return jsonl(text); // JSON Lines in a .json
    return { records: [], textExamples: null, errors: [{ line: jsonErrorLine(text, (e as Error).message), message: `invalid JSON (${(e as Error).message})` }] };
  }
  if (!Array.isArray(data)) return { records: [{ line: 1, value: data }], textExamples: null, errors: [] };
  const starts = arrayElementOffsets(text);
  const lineAt = lineCounter(text);
  return { records: data.map((value, i) => ({ line: lineAt(starts[i] ?? 0), value })), textExamples: null, errors: [] };
}

const CSV_COLUMNS = ['text', 'prompt', 'completion', 'instruction', 'input', 'output'];

function csv(text: string, delimiter: string): Parsed {
  const records: RawRecord[] = [], errors: BadRow[] = [];
  const lineAt = lineCounter(text);
  let header: string[] | null = null;
  let prevCursor = 0;
  Papa.parse<string[]>(text, {
    header: false,
    delimiter,
    skipEmptyLines: 'greedy',
    step(result) {
      let start = prevCursor;
      while (start < text.length && (text[start] === '\n' || text[start] === '\r')) start++;
      prevCursor = result.meta.cursor;
      const line = lineAt(start);
      if (result.errors.length) return void errors.push({ line, message: `CSV: ${result.errors[0].message}` });
      if (!header) {
        header = result.data.map((h) => h.trim());
        if (!header.some((h) => CSV_COLUMNS.includes(h)))
          errors.push({ line, message: `the header must name the columns text | prompt,completion | instruction,input,output; got ${header.join(',')}` });
        return;
      }
      if (result.data.length !== header.length) return void errors.push({ line, message: `${result.data.length} fields, the header has ${header.length}` });
      const rec: Record<string, string> = {};
      header.forEach((h, i) => CSV_COLUMNS.includes(h) && (rec[h] = result.data[i]));
      records.push({ line, value: rec });
    },
  });
  return { records, textExamples: null, errors };
}

/** Splits a file into records (JSONL, JSON, CSV/TSV) or plain-text examples (TXT, MD), keeping every error. */
export function splitRecords(raw: string, fileName: string): Parsed {
  const text = raw.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  const e = ext(fileName);
  const head = text.trimStart();
  if (e === 'jsonl' || e === 'ndjson' || (!['json', 'csv', 'tsv', 'txt', 'md', 'text'].includes(e) && head.startsWith('{'))) return jsonl(text);
  if (e === 'json' || (!['csv', 'tsv', 'txt', 'md', 'text'].includes(e) && head.startsWith('['))) return json(text);
  if (e === 'csv' || e === 'tsv') return csv(text, e === 'tsv' ? '\t' : ',');
  if (!text.trim()) return { records: [], textExamples: [], errors: [{ line: 1, message: 'the file is empty' }] };
  const examples = parseDataset(text, fileName.includes('.') ? fileName : `${fileName}.txt`);
  return { records: [], textExamples: examples.map((example) => ({ line: Number(example.source?.split(':').pop()) || 0, example })), errors: [] };
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
