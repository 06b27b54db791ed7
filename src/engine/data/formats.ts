// Dataset files → examples. Every record is one of four shapes, detected per record:
//   {"text": "..."}                                  plain language modelling (every token is a target)
//   {"prompt": "...", "completion": "..."}           completion-only loss by default
//   {"instruction": "...", "input"?: "...", "output": "..."}   Stanford Alpaca, rendered with its template
//   {"messages": [{"role": "...", "content": "..."}, ...]}      rendered later with the tokenizer's chat template;
//                                                    the last message must be the assistant's (the target)
// Files: .jsonl/.ndjson (one record per line), .json (an array of records, or JSONL inside a .json), .csv/.tsv
// (header row naming the columns: text | prompt,completion | instruction,input?,output), .txt/.md (see parseText).
// Errors read "<file>:<line>: <what is wrong>" (line = 1-based line where the record starts).
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

function parseJsonl(text: string, file: string): Example[] {
  const out: Example[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch (e) {
      throw new Error(`${file}:${i + 1}: invalid JSON (${(e as Error).message})`);
    }
    out.push(recordToExample(rec, `${file}:${i + 1}`));
  });
  return out;
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

/** Line numbers of increasing offsets, counted incrementally (one pass over the text in all). */
export function lineCounter(text: string): (offset: number) => number {
  let line = 1, at = 0;
  return (offset) => {
    if (offset < at) (line = 1), (at = 0);
    for (; at < offset; at++) if (text.charCodeAt(at) === 10) line++;
    return line;
  };
}

function parseJson(text: string, file: string): Example[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    // Many ".json" datasets are really JSON Lines.
    if (text.trimStart().startsWith('{') && text.trim().includes('\n')) return parseJsonl(text, file);
    throw new Error(`${file}:1: invalid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(data)) {
    if (data && typeof data === 'object') return [recordToExample(data, `${file}:1`)];
    throw new Error(`${file}:1: expected a JSON array of records`);
  }
  const starts = arrayElementOffsets(text);
  const lineAt = lineCounter(text);
  return data.map((rec, i) => recordToExample(rec, `${file}:${lineAt(starts[i] ?? 0)}`));
}

function parseCsv(text: string, file: string, delimiter: string): Example[] {
  const rows: { fields: string[]; start: number }[] = [];
  const errors: { message: string; start: number }[] = [];
  let prevCursor = 0;
  Papa.parse<string[]>(text, {
    header: false,
    delimiter,
    skipEmptyLines: 'greedy',
    step(result) {
      let start = prevCursor;
      while (start < text.length && (text[start] === '\n' || text[start] === '\r')) start++;
      prevCursor = result.meta.cursor;
      for (const err of result.errors) errors.push({ message: err.message, start });
      rows.push({ fields: result.data, start });
    },
  });
  const lineAt = lineCounter(text);
  if (errors.length) throw new Error(`${file}:${lineAt(errors[0].start)}: CSV: ${errors[0].message}`);
  if (rows.length === 0) throw new Error(`${file}:1: empty CSV file`);
  const header = rows[0].fields.map((h) => h.trim());
  const known = ['text', 'prompt', 'completion', 'instruction', 'input', 'output'];
  if (!header.some((h) => known.includes(h))) {
    throw new Error(`${file}:1: CSV header must name the columns text | prompt,completion | instruction,input,output; got ${header.join(',')}`);
  }
  return rows.slice(1).map(({ fields, start }) => {
    const where = `${file}:${lineAt(start)}`;
    if (fields.length !== header.length) throw new Error(`${where}: ${fields.length} fields, the header has ${header.length}`);
    const rec: Record<string, string> = {};
    header.forEach((h, i) => {
      if (known.includes(h)) rec[h] = fields[i];
    });
    return recordToExample(rec, where);
  });
}

/**
 * Plain text: when the file contains a blank line, each paragraph (lines separated by one or more blank lines,
 * inner line breaks kept) is one example; otherwise each non-empty line is one example.
 */
function parseText(text: string, file: string): Example[] {
  const lines = text.split('\n');
  const first = lines.findIndex((l) => l.trim());
  let last = lines.length - 1;
  while (last >= 0 && !lines[last].trim()) last--;
  const hasBlank = first >= 0 && lines.slice(first, last + 1).some((l) => !l.trim());
  const out: Example[] = [];
  if (!hasBlank) {
    lines.forEach((l, i) => {
      if (l.trim()) out.push({ text: l, source: `${file}:${i + 1}` });
    });
    return out;
  }
  let para: string[] = [];
  let startLine = 0;
  const flush = () => {
    if (para.length) out.push({ text: para.join('\n'), source: `${file}:${startLine}` });
    para = [];
  };
  lines.forEach((l, i) => {
    if (!l.trim()) return flush();
    if (!para.length) startLine = i + 1;
    para.push(l);
  });
  flush();
  return out;
}

/** Parse a dataset file; the extension picks the format (content sniffing for unknown extensions). */
export function parseDataset(text: string, fileName: string): Example[] {
  text = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  const ext = fileName.toLowerCase().match(/\.([a-z0-9]+)$/)?.[1] ?? '';
  let out: Example[];
  if (ext === 'jsonl' || ext === 'ndjson') out = parseJsonl(text, fileName);
  else if (ext === 'json') out = parseJson(text, fileName);
  else if (ext === 'csv' || ext === 'tsv') out = parseCsv(text, fileName, ext === 'tsv' ? '\t' : ',');
  else if (ext === 'txt' || ext === 'md' || ext === 'text') out = parseText(text, fileName);
  else {
    const head = text.trimStart();
    out = head.startsWith('[') ? parseJson(text, fileName) : head.startsWith('{') ? parseJsonl(text, fileName) : parseText(text, fileName);
  }
  if (out.length === 0) throw new Error(`${fileName}: no examples`);
  return out;
}
