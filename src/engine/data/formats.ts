// Dataset files → examples. Every record is one of four shapes, detected per record:
//   {"text": "..."}                                  plain language modelling (every token is a target)
//   {"prompt": "...", "completion": "..."}           completion-only loss by default
//   {"instruction": "...", "input"?: "...", "output": "..."}   Stanford Alpaca, rendered with its template
//   {"messages": [{"role": "...", "content": "..."}, ...]}      rendered later with the tokenizer's chat template;
//                                                    the last message must be the assistant's (the target)
// Files: .jsonl/.ndjson (one record per line), .json (an array of records, or JSONL inside a .json), .csv/.tsv
// (header row naming the columns: text | prompt,completion | instruction,input?,output), .txt/.md (see parseText).
// Two steps: splitDatasetRecords cuts a file into raw records with their line numbers, keeping EVERY bad row with
// its reason (the web app lists them all); recordToExample reads one record. parseDataset (the CLI) runs both and
// throws on the first bad row, as "<file>:<line>: <what is wrong>" (line = 1-based line where the record starts).
import Papa from 'papaparse';

export interface ChatMessage {
  role: string;
  content: string;
}
export type Example =
  | { prompt?: string; completion: string; source?: string }
  | { text: string; source?: string }
  | { messages: ChatMessage[]; source?: string };

// Stanford Alpaca's PROMPT_DICT (tatsu-lab/stanford_alpaca, train.py), verbatim.
export const ALPACA_PROMPT_WITH_INPUT =
  'Below is an instruction that describes a task, paired with an input that provides further context. ' +
  'Write a response that appropriately completes the request.\n\n' +
  '### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n';
export const ALPACA_PROMPT_NO_INPUT =
  'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n' +
  '### Instruction:\n{instruction}\n\n### Response:\n';

export function alpacaPrompt(instruction: string, input?: string | null): string {
  // Same substitution as Python's str.format_map on the template (no re-scanning of the inserted text).
  return input
    ? ALPACA_PROMPT_WITH_INPUT.replace('{instruction}', () => instruction).replace('{input}', () => input)
    : ALPACA_PROMPT_NO_INPUT.replace('{instruction}', () => instruction);
}

const FORMATS = '{"text"}, {"prompt","completion"}, {"instruction","input"?,"output"} or {"messages":[{"role","content"}]}';

/** One record (already parsed from JSON or CSV) → Example; `where` is "file:line" for error messages. */
export function recordToExample(rec: unknown, where: string): Example {
  const fail = (what: string): never => {
    throw new Error(`${where}: ${what}`);
  };
  if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) {
    fail(`expected a JSON object (${FORMATS}), got ${rec === null ? 'null' : Array.isArray(rec) ? 'an array' : typeof rec}`);
  }
  const r = rec as Record<string, unknown>;
  const str = (key: string, optional = false): string | undefined => {
    const v = r[key];
    if (v === undefined || v === null) return optional ? undefined : fail(`"${key}" is missing`);
    if (typeof v !== 'string') return fail(`"${key}" must be a string, got ${Array.isArray(v) ? 'an array' : typeof v}`);
    return v;
  };

  if ('messages' in r) {
    const m = r.messages;
    if (!Array.isArray(m) || m.length === 0) fail('"messages" must be a non-empty array');
    const messages = (m as unknown[]).map((msg, i) => {
      if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) return fail(`messages[${i}] is not an object`);
      const { role, content } = msg as Record<string, unknown>;
      if (typeof role !== 'string' || !role) fail(`messages[${i}].role must be a non-empty string`);
      if (typeof content !== 'string') fail(`messages[${i}].content must be a string`);
      return { role: role as string, content: content as string };
    });
    if (messages[messages.length - 1].role !== 'assistant') {
      fail(`the last message must be the assistant's reply (the training target), got role "${messages[messages.length - 1].role}"`);
    }
    return { messages, source: where };
  }
  if ('prompt' in r || 'completion' in r) {
    const prompt = str('prompt')!;
    const completion = str('completion')!;
    if (!completion) fail('"completion" is empty');
    return { prompt, completion, source: where };
  }
  if ('instruction' in r || 'output' in r) {
    const instruction = str('instruction')!;
    const input = str('input', true);
    const output = str('output')!;
    if (!output) fail('"output" is empty');
    return { prompt: alpacaPrompt(instruction, input), completion: output, source: where };
  }
  if ('text' in r) {
    const text = str('text')!;
    if (!text) fail('"text" is empty');
    return { text, source: where };
  }
  return fail(`no known fields; expected ${FORMATS}, got keys ${Object.keys(r).map((k) => JSON.stringify(k)).join(', ') || '(none)'}`);
}

/** Line numbers of increasing offsets, counted incrementally (one pass over the text in all). */
export function lineCounter(text: string): (offset: number) => number {
  let line = 1, at = 0;
  return (offset) => {
    if (offset < at) (line = 1), (at = 0);
    for (; at < offset; at++) if (text.charCodeAt(at) === 10) line++;
    return line;
  };
}

/** Start offsets of the top-level elements of a JSON array text (already known to parse). */
export function arrayElementOffsets(text: string): number[] {
  const starts: number[] = [];
  let depth = 0, inString = false, expectValue = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === ' ' || c === '\n' || c === '\t' || c === '\r') continue;
    if (depth === 1 && expectValue && c !== ']') {
      starts.push(i);
      expectValue = false;
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') {
      depth++;
      if (depth === 1) expectValue = true;
    } else if (c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 1) expectValue = true;
  }
  return starts;
}

/** How a file is cut into records: by its extension, else sniffed from its first character. */
export type DatasetKind = 'jsonl' | 'json' | 'csv' | 'tsv' | 'text';
/** One record as read from the file (a JSON value, a CSV row as {column: field}, a text as {text}). */
export interface RawRecord {
  value: unknown;
  /** 1-based line where the record starts */
  line: number;
}
/** A row that could not be read; `message` has no "file:line:" prefix. */
export interface BadRow {
  line: number;
  message: string;
}
export interface SplitDataset {
  kind: DatasetKind;
  /** the good rows, in file order */
  records: RawRecord[];
  /** every bad row, in file order (a bad row gives no record) */
  errors: BadRow[];
  /** CSV/TSV: the header row's column names (trimmed); undefined when the file has no rows */
  columns?: string[];
}

export function datasetKind(text: string, fileName: string): DatasetKind {
  const ext = fileName.toLowerCase().match(/\.([a-z0-9]+)$/)?.[1] ?? '';
  if (ext === 'jsonl' || ext === 'ndjson') return 'jsonl';
  if (ext === 'json' || ext === 'csv' || ext === 'tsv') return ext;
  if (ext === 'txt' || ext === 'md' || ext === 'text') return 'text';
  const head = text.trimStart();
  return head.startsWith('[') ? 'json' : head.startsWith('{') ? 'jsonl' : 'text';
}

function splitJsonl(text: string): SplitDataset {
  const records: RawRecord[] = [], errors: BadRow[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      records.push({ value: JSON.parse(line), line: i + 1 });
    } catch (e) {
      errors.push({ line: i + 1, message: `invalid JSON (${(e as Error).message})` });
    }
  });
  return { kind: 'jsonl', records, errors };
}

function splitJson(text: string): SplitDataset {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    // Many ".json" datasets are really JSON Lines.
    if (text.trimStart().startsWith('{') && text.trim().includes('\n')) return splitJsonl(text);
    const message = (e as Error).message;
    const at = /position (\d+)/.exec(message); // the JSON engine's error offset, when it says it
    return { kind: 'json', records: [], errors: [{ line: at ? lineCounter(text)(Number(at[1])) : 1, message: `invalid JSON (${message})` }] };
  }
  if (!Array.isArray(data)) {
    if (data && typeof data === 'object') return { kind: 'json', records: [{ value: data, line: 1 }], errors: [] };
    return { kind: 'json', records: [], errors: [{ line: 1, message: 'expected a JSON array of records' }] };
  }
  const starts = arrayElementOffsets(text);
  const lineAt = lineCounter(text);
  return { kind: 'json', records: data.map((value, i) => ({ value, line: lineAt(starts[i] ?? 0) })), errors: [] };
}

const CSV_COLUMNS = ['text', 'prompt', 'completion', 'instruction', 'input', 'output'];

/** CSV/TSV: the first row that parses is the header; each later row → {known column: field}. */
function splitCsv(text: string, kind: 'csv' | 'tsv'): SplitDataset {
  const records: RawRecord[] = [], errors: BadRow[] = [];
  const lineAt = lineCounter(text);
  let columns: string[] | undefined;
  let prevCursor = 0;
  Papa.parse<string[]>(text, {
    header: false,
    delimiter: kind === 'tsv' ? '\t' : ',',
    skipEmptyLines: 'greedy',
    step(result) {
      // the row starts after the previous row's end and the line breaks of the blank lines Papa skipped
      let start = prevCursor;
      while (start < text.length && (text[start] === '\n' || text[start] === '\r')) start++;
      prevCursor = result.meta.cursor;
      const line = lineAt(start);
      if (result.errors.length) return void errors.push({ line, message: `CSV: ${result.errors[0].message}` });
      if (!columns) {
        columns = result.data.map((h) => h.trim());
        if (!columns.some((h) => CSV_COLUMNS.includes(h)))
          errors.push({ line, message: `CSV header must name the columns text | prompt,completion | instruction,input,output; got ${columns.join(',')}` });
        return;
      }
      if (result.data.length !== columns.length) return void errors.push({ line, message: `${result.data.length} fields, the header has ${columns.length}` });
      const rec: Record<string, string> = {};
      columns.forEach((h, i) => CSV_COLUMNS.includes(h) && (rec[h] = result.data[i]));
      records.push({ value: rec, line });
    },
  });
  return { kind, records, errors, columns };
}

/**
 * Plain text: when the file contains a blank line, each paragraph (lines separated by one or more blank lines,
 * inner line breaks kept) is one {text} record; otherwise each non-empty line is one.
 */
function splitText(text: string): SplitDataset {
  const lines = text.split('\n');
  const first = lines.findIndex((l) => l.trim());
  let last = lines.length - 1;
  while (last >= 0 && !lines[last].trim()) last--;
  const hasBlank = first >= 0 && lines.slice(first, last + 1).some((l) => !l.trim());
  const records: RawRecord[] = [];
  if (!hasBlank) {
    lines.forEach((l, i) => l.trim() && records.push({ value: { text: l }, line: i + 1 }));
    return { kind: 'text', records, errors: [] };
  }
  let para: string[] = [];
  let startLine = 0;
  const flush = () => {
    if (para.length) records.push({ value: { text: para.join('\n') }, line: startLine });
    para = [];
  };
  lines.forEach((l, i) => {
    if (!l.trim()) return flush();
    if (!para.length) startLine = i + 1;
    para.push(l);
  });
  flush();
  return { kind: 'text', records, errors: [] };
}

/**
 * A dataset file → its records with their line numbers, and every bad row (invalid JSON, CSV syntax, a CSV row
 * with the wrong number of fields, a CSV header without known columns) with its line. An empty file gives no
 * records and no errors. Records are not checked here: recordToExample reads them.
 */
export function splitDatasetRecords(raw: string, fileName: string): SplitDataset {
  const text = raw.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  const kind = datasetKind(text, fileName);
  if (kind === 'jsonl') return splitJsonl(text);
  if (kind === 'json') return splitJson(text);
  if (kind === 'csv' || kind === 'tsv') return splitCsv(text, kind);
  return splitText(text);
}

/** Parse a dataset file; the extension picks the format (content sniffing for unknown extensions). */
export function parseDataset(text: string, fileName: string): Example[] {
  const { kind, records, errors, columns } = splitDatasetRecords(text, fileName);
  // throw on the first bad row in file order: a bad record before the first bad row of the split counts first
  const firstBad = errors.length ? errors[0].line : Infinity;
  const out: Example[] = [];
  for (const rec of records) {
    if (rec.line > firstBad) break;
    out.push(recordToExample(rec.value, `${fileName}:${rec.line}`));
  }
  if (errors.length) throw new Error(`${fileName}:${errors[0].line}: ${errors[0].message}`);
  if ((kind === 'csv' || kind === 'tsv') && !columns) throw new Error(`${fileName}:1: empty CSV file`);
  if (out.length === 0) throw new Error(`${fileName}: no examples`);
  return out;
}
