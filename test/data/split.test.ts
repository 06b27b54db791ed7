// splitDatasetRecords: every bad row listed with its line (the web app shows them all), good rows kept with the
// line they start on; parseDataset = the splitter + recordToExample, stopping at the first bad row in file order.
import { describe, expect, it } from 'vitest';
import { datasetKind, parseDataset, splitDatasetRecords } from '../../src/engine/data/formats.ts';
import { splitRecords, toExample } from '../../app/worker/records.ts';

const lines = (xs: { line: number }[]) => xs.map((x) => x.line);

describe('splitDatasetRecords: JSONL', () => {
  it('lists every invalid line and keeps the others with their line numbers', () => {
    const text = ['{"text": "a"}', '{"text": oops', '', '{"prompt": "p", "completion": "c"}', 'not json', '{"foo": 1}', ''].join('\n');
    const s = splitDatasetRecords(text, 'd.jsonl');
    expect(s.kind).toBe('jsonl');
    expect(s.records).toEqual([
      { value: { text: 'a' }, line: 1 },
      { value: { prompt: 'p', completion: 'c' }, line: 4 },
      { value: { foo: 1 }, line: 6 }, // the splitter does not judge fields: recordToExample does
    ]);
    expect(lines(s.errors)).toEqual([2, 5]);
    for (const e of s.errors) expect(e.message).toMatch(/^invalid JSON \(/);
  });

  it('counts lines across CRLF and a BOM; an empty file is neither records nor errors', () => {
    const s = splitDatasetRecords('\uFEFF{"text": "a"}\r\n\r\n{bad\r\n{"text": "b"}\r\n', 'w.ndjson');
    expect(lines(s.records)).toEqual([1, 4]);
    expect(lines(s.errors)).toEqual([3]);
    expect(splitDatasetRecords('\n  \n', 'e.jsonl')).toEqual({ kind: 'jsonl', records: [], errors: [] });
  });
});

describe('splitDatasetRecords: JSON', () => {
  it('array elements keep the line they start on (strings with brackets, escapes and commas do not confuse it)', () => {
    const text = '[\n  {"text": "a [x], \\"b\\" {"},\n\n  {"prompt": "p",\n   "completion": "c"}, {"text": "same line"},\n  5\n]';
    const s = splitDatasetRecords(text, 'a.json');
    expect(s.errors).toEqual([]);
    expect(s.records.map((r) => [r.line, r.value])).toEqual([
      [2, { text: 'a [x], "b" {' }],
      [4, { prompt: 'p', completion: 'c' }],
      [5, { text: 'same line' }],
      [6, 5],
    ]);
  });

  it('broken JSON is one error on the line the JSON engine points at', () => {
    const s = splitDatasetRecords('[\n  {"text": "a"},\n  {"text": "b" "c"}\n]', 'b.json');
    expect(s.records).toEqual([]);
    expect(s.errors).toHaveLength(1);
    expect(s.errors[0].message).toMatch(/^invalid JSON \(/);
    // V8 names the offset ("at position N"): the line follows from it; without one, line 1
    expect(s.errors[0].line).toBe(/position \d+/.test(s.errors[0].message) ? 3 : 1);
  });

  it('JSON Lines inside a .json file are split as JSONL, bad lines listed', () => {
    const s = splitDatasetRecords('{"text": "a"}\n{"text": \n{"text": "c"}\n', 'l.json');
    expect(s.kind).toBe('jsonl');
    expect(lines(s.records)).toEqual([1, 3]);
    expect(lines(s.errors)).toEqual([2]);
  });

  it('one object is one record; a bare value is an error', () => {
    expect(splitDatasetRecords('{"text": "a"}', 'o.json').records).toEqual([{ value: { text: 'a' }, line: 1 }]);
    expect(splitDatasetRecords('"hello"', 's.json').errors).toEqual([{ line: 1, message: 'expected a JSON array of records' }]);
    expect(splitDatasetRecords('null', 'n.json').errors).toEqual([{ line: 1, message: 'expected a JSON array of records' }]);
  });
});

describe('splitDatasetRecords: CSV / TSV', () => {
  it('lists every row with the wrong number of fields and every syntax error, by the line the row starts on', () => {
    const text = 'prompt,completion,extra\n"multi\nline",x,1\nshort,row\n\n"Q, ok",y,2\na,b,c,d\n"unterminated,z,3\n';
    const s = splitDatasetRecords(text, 'd.csv');
    expect(s.kind).toBe('csv');
    expect(s.columns).toEqual(['prompt', 'completion', 'extra']);
    expect(s.records).toEqual([
      { value: { prompt: 'multi\nline', completion: 'x' }, line: 2 }, // unknown columns are dropped
      { value: { prompt: 'Q, ok', completion: 'y' }, line: 6 },
    ]);
    expect(s.errors.map((e) => [e.line, e.message.replace(/CSV: .*/, 'CSV: …')])).toEqual([
      [4, '2 fields, the header has 3'],
      [7, '4 fields, the header has 3'],
      [8, 'CSV: …'],
    ]);
  });

  it('a header without known columns is listed, and the rows are still split', () => {
    const s = splitDatasetRecords('\nquestion,answer\na,b\nc\n', 'q.csv');
    expect(s.errors).toEqual([
      { line: 2, message: 'CSV header must name the columns text | prompt,completion | instruction,input,output; got question,answer' },
      { line: 4, message: '1 fields, the header has 2' },
    ]);
    expect(s.records).toEqual([{ value: {}, line: 3 }]);
  });

  it('TSV splits on tabs; header-only and empty files give no records (and only the first has columns)', () => {
    const s = splitDatasetRecords('instruction\tinput\toutput\nAdd.\t2, 2\t4\n', 't.tsv');
    expect(s.kind).toBe('tsv');
    expect(s.records).toEqual([{ value: { instruction: 'Add.', input: '2, 2', output: '4' }, line: 2 }]);
    expect(splitDatasetRecords('text\n', 'h.csv')).toEqual({ kind: 'csv', records: [], errors: [], columns: ['text'] });
    expect(splitDatasetRecords('\n\n', 'e.csv')).toEqual({ kind: 'csv', records: [], errors: [], columns: undefined });
  });
});

describe('splitDatasetRecords: TXT and sniffing', () => {
  it('paragraphs when there is a blank line, else lines; {text} records with their first line', () => {
    expect(splitDatasetRecords('\nfirst\nsecond\n\n\nthird\n', 'p.txt').records).toEqual([
      { value: { text: 'first\nsecond' }, line: 2 },
      { value: { text: 'third' }, line: 6 },
    ]);
    expect(splitDatasetRecords('one\r\ntwo\r\n\r\n', 'l.md').records).toEqual([
      { value: { text: 'one' }, line: 1 },
      { value: { text: 'two' }, line: 2 },
    ]);
    expect(splitDatasetRecords('  \n', 'e.txt')).toEqual({ kind: 'text', records: [], errors: [] });
  });

  it('the extension picks the kind, else the first character does', () => {
    expect(datasetKind('[', 'a.JSONL')).toBe('jsonl');
    expect(datasetKind('{', 'a.txt')).toBe('text');
    expect(datasetKind('  [{"text": "a"}]', 'data')).toBe('json');
    expect(datasetKind('\n{"text": "a"}', 'data.bin')).toBe('jsonl');
    expect(datasetKind('words', 'data')).toBe('text');
  });
});

describe('parseDataset on the splitter: the first bad row in file order', () => {
  it('a bad record before a bad split row is reported first, and the other way round', () => {
    expect(() => parseDataset('{"text": 1}\n{oops\n', 'd.jsonl')).toThrow(/^d\.jsonl:1: "text" must be a string, got number$/);
    expect(() => parseDataset('{"text": "a"}\n{oops\n{"text": 1}\n', 'd.jsonl')).toThrow(/^d\.jsonl:2: invalid JSON/);
    expect(() => parseDataset('prompt,completion\nc\n"unterminated\n', 'd.csv')).toThrow(/^d\.csv:2: 1 fields, the header has 2$/);
    expect(() => parseDataset('"str"', 's.json')).toThrow(/^s\.json:1: expected a JSON array of records$/);
  });

  it('empty CSV, header-only CSV and empty text files', () => {
    expect(() => parseDataset('\n', 'e.csv')).toThrow(/^e\.csv:1: empty CSV file$/);
    expect(() => parseDataset('text\n', 'h.csv')).toThrow(/^h\.csv: no examples$/);
    expect(() => parseDataset('', 'e.txt')).toThrow(/^e\.txt: no examples$/);
  });
});

describe('the app: splitRecords and toExample on the splitter', () => {
  it('keeps every bad row; plain text comes back as examples; an empty text file says so', () => {
    const p = splitRecords('{"text": "a"}\n{bad\n{"foo": 1}\n', 'm.jsonl');
    expect(p.textExamples).toBeNull();
    expect(lines(p.records)).toEqual([1, 3]);
    expect(lines(p.errors)).toEqual([2]);
    expect(() => toExample(p.records[1], 'auto', 'm.jsonl:3')).toThrow(/^m\.jsonl:3: no known fields/);
    const t = splitRecords('one\n\ntwo\nthree\n', 'notes');
    expect(t.records).toEqual([]);
    expect(t.textExamples).toEqual([
      { line: 1, example: { text: 'one', source: 'notes:1' } },
      { line: 3, example: { text: 'two\nthree', source: 'notes:3' } },
    ]);
    expect(splitRecords(' \n', 'e.txt').errors).toEqual([{ line: 1, message: 'the file is empty' }]);
  });

  it('a format override reads prompt/completion as one text, and names the fields a mismatched row lacks', () => {
    const [rec] = splitRecords('prompt,completion\nQ: ,A\n', 'pc.csv').records;
    expect(toExample(rec, 'text', 'pc.csv:2')).toEqual({ example: { text: 'Q: A', source: 'pc.csv:2' }, format: 'text' });
    expect(() => toExample(rec, 'chat', 'pc.csv:2')).toThrow(/^pc\.csv:2: expected "messages" for the chat format, this row has "prompt" and "completion"$/);
  });
});
