import { describe, expect, it } from 'vitest';
import { parseDataset, alpacaPrompt } from '../../src/engine/data/index.ts';

const strip = (xs: object[]) => xs.map(({ source: _s, ...rest }: { source?: string }) => rest);

describe('parseDataset: JSONL', () => {
  it('detects the four record shapes per line, skipping blank lines', () => {
    const text = [
      '{"text": "hello world"}',
      '',
      '{"prompt": "Q: 2+2? A:", "completion": " 4", "extra": 1}',
      '{"instruction": "Add.", "input": "2 and 2", "output": "4"}',
      '{"instruction": "Say hi.", "output": "hi"}',
      '{"instruction": "Say hi.", "input": "", "output": "hi"}',
      '{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}',
    ].join('\n');
    const ex = parseDataset(text, 'd.jsonl');
    expect(ex.map((e) => e.source)).toEqual(['d.jsonl:1', 'd.jsonl:3', 'd.jsonl:4', 'd.jsonl:5', 'd.jsonl:6', 'd.jsonl:7']);
    expect(strip(ex)).toEqual([
      { text: 'hello world' },
      { prompt: 'Q: 2+2? A:', completion: ' 4' },
      { prompt: alpacaPrompt('Add.', '2 and 2'), completion: '4' },
      { prompt: alpacaPrompt('Say hi.'), completion: 'hi' },
      { prompt: alpacaPrompt('Say hi.'), completion: 'hi' },
      { messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }] },
    ]);
  });

  it('renders Alpaca prompts with the Stanford template, verbatim', () => {
    expect(alpacaPrompt('Add.', '2 and 2')).toBe(
      'Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n' +
        '### Instruction:\nAdd.\n\n### Input:\n2 and 2\n\n### Response:\n',
    );
    expect(alpacaPrompt('Say $& hi.', null)).toBe(
      'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n' +
        '### Instruction:\nSay $& hi.\n\n### Response:\n',
    );
  });

  const bad: [string, RegExp][] = [
    ['{"text": "ok"}\n\n{"text": oops}', /^d\.jsonl:3: invalid JSON/],
    ['{"prompt": "p"}', /^d\.jsonl:1: "completion" is missing$/],
    ['{"prompt": "p", "completion": 5}', /^d\.jsonl:1: "completion" must be a string, got number$/],
    ['{"prompt": "p", "completion": ""}', /^d\.jsonl:1: "completion" is empty$/],
    ['{"instruction": "i"}', /^d\.jsonl:1: "output" is missing$/],
    ['{"instruction": "i", "input": 3, "output": "o"}', /^d\.jsonl:1: "input" must be a string/],
    ['{"text": ""}', /^d\.jsonl:1: "text" is empty$/],
    ['{"question": "q", "answer": "a"}', /^d\.jsonl:1: no known fields; .*got keys "question", "answer"$/],
    ['[1, 2]', /^d\.jsonl:1: expected a JSON object .*got an array$/],
    ['{"messages": []}', /^d\.jsonl:1: "messages" must be a non-empty array$/],
    ['{"messages": [{"role": "user", "content": "hi"}]}', /^d\.jsonl:1: the last message must be the assistant's reply.*"user"$/],
    ['{"messages": [{"role": "user", "content": 1}, {"role": "assistant", "content": "x"}]}', /^d\.jsonl:1: messages\[0\]\.content must be a string$/],
    ['{"messages": [{"content": "x"}]}', /^d\.jsonl:1: messages\[0\]\.role must be a non-empty string$/],
    ['\n\n', /^d\.jsonl: no examples$/],
  ];
  for (const [text, message] of bad) {
    it(`reports ${JSON.stringify(text).slice(0, 50)}`, () => {
      expect(() => parseDataset(text, 'd.jsonl')).toThrow(message);
    });
  }

  it('counts lines across CRLF line endings and a BOM', () => {
    expect(() => parseDataset('\uFEFF{"text": "a"}\r\n{"text": "b"}\r\n{"text": 1}\r\n', 'w.jsonl')).toThrow(/^w\.jsonl:3: "text" must be a string/);
  });
});

describe('parseDataset: JSON, CSV, TXT', () => {
  it('JSON arrays report the line each bad element starts on; JSONL inside .json works', () => {
    const arr = '[\n  {"text": "a"},\n  {"prompt": "p",\n   "completion": "c"},\n  {"text": ["x"]}\n]';
    expect(() => parseDataset(arr, 'a.json')).toThrow(/^a\.json:5: "text" must be a string, got an array$/);
    const ok = parseDataset(arr.replace('["x"]', '"z"'), 'a.json');
    expect(ok.map((e) => e.source)).toEqual(['a.json:2', 'a.json:3', 'a.json:5']);
    expect(strip(ok)[1]).toEqual({ prompt: 'p', completion: 'c' });
    expect(strip(parseDataset('{"text": "a"}\n{"text": "b"}\n', 'lines.json'))).toEqual([{ text: 'a' }, { text: 'b' }]);
    expect(() => parseDataset('[{"text": "a"}', 'broken.json')).toThrow(/^broken\.json:1: invalid JSON/);
  });

  it('CSV with text, prompt/completion (quoted commas and newlines), Alpaca columns', () => {
    expect(strip(parseDataset('text\nhello\n"a, b"\n', 't.csv'))).toEqual([{ text: 'hello' }, { text: 'a, b' }]);
    const pc = parseDataset('prompt,completion\n"line1\nline2",x\n\n"Q, ok",y\n', 'pc.csv');
    expect(strip(pc)).toEqual([{ prompt: 'line1\nline2', completion: 'x' }, { prompt: 'Q, ok', completion: 'y' }]);
    expect(pc.map((e) => e.source)).toEqual(['pc.csv:2', 'pc.csv:5']);
    const al = parseDataset('instruction,input,output\nAdd.,2 and 2,4\nSay hi.,,hi\n', 'al.csv');
    expect(strip(al)).toEqual([
      { prompt: alpacaPrompt('Add.', '2 and 2'), completion: '4' },
      { prompt: alpacaPrompt('Say hi.'), completion: 'hi' },
    ]);
    expect(() => parseDataset('prompt,completion\na,b\n"mul\nti",\nc\n', 'bad.csv')).toThrow(/^bad\.csv:3: "completion" is empty$/);
    expect(() => parseDataset('prompt,completion\na,b\nc\n', 'bad.csv')).toThrow(/^bad\.csv:3: 1 fields, the header has 2$/);
    expect(() => parseDataset('question,answer\na,b\n', 'bad.csv')).toThrow(/^bad\.csv:1: CSV header must name/);
    expect(() => parseDataset('text\n"unterminated\n', 'bad.csv')).toThrow(/^bad\.csv:2: CSV: /);
  });

  it('TXT: paragraphs when there are blank lines, else one example per line', () => {
    expect(strip(parseDataset('\nfirst line\nsecond line\n\n\nthird\n', 'p.txt'))).toEqual([{ text: 'first line\nsecond line' }, { text: 'third' }]);
    expect(parseDataset('\nfirst line\nsecond line\n\n\nthird\n', 'p.txt').map((e) => e.source)).toEqual(['p.txt:2', 'p.txt:6']);
    expect(strip(parseDataset('one\ntwo\n\n', 'l.txt'))).toEqual([{ text: 'one' }, { text: 'two' }]);
  });

  it('unknown extensions are sniffed', () => {
    expect(strip(parseDataset('[{"text": "a"}]', 'data'))).toEqual([{ text: 'a' }]);
    expect(strip(parseDataset('{"text": "a"}\n', 'data'))).toEqual([{ text: 'a' }]);
    expect(strip(parseDataset('just words', 'data'))).toEqual([{ text: 'just words' }]);
  });
});
