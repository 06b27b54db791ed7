// The CLI end to end against the PyTorch + PEFT fixtures (scripts/make_fixtures.py): Llama (BF16 weights, GQA,
// untied head) and Llama with llama3 rope scaling (F32). Cases in fixture-cases.ts.
import { describe } from 'vitest';
import { fixtureCases } from './fixture-cases';

describe('weblora CLI on the PyTorch fixtures: llama, llama3rope', () => {
  fixtureCases(['llama', 'llama3rope']);
});
