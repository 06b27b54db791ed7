export { parseDataset, recordToExample, alpacaPrompt, ALPACA_PROMPT_WITH_INPUT, ALPACA_PROMPT_NO_INPUT, splitDatasetRecords, datasetKind } from './formats.ts';
export type { Example, ChatMessage, RawRecord, BadRow, SplitDataset } from './formats.ts';
export { tokenizeExample, IGNORE_INDEX } from './tokenize.ts';
export type { TokenizedExample } from './tokenize.ts';
export { makeBatch, batchOrder, epochPermutation, padIdFor } from './batch.ts';
export type { Batch } from './batch.ts';
export { tokenizeDataset, tokenizeExamples } from './dataset.ts';
export type { TokenizedDataset } from './dataset.ts';
