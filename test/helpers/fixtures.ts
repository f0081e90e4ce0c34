import * as path from 'node:path';

/** The shared oracles folder beside the checkout (override with SIL_SHARED). */
export const SHARED = process.env.SIL_SHARED ?? path.resolve(__dirname, '../../../shared');
export const HF_TINY = path.join(SHARED, 'fixtures/hf-tiny');
export const TOKENIZERS = path.join(SHARED, 'fixtures/tokenizers');
export const DATASETS = path.join(SHARED, 'datasets');
export const FIXTURE_NAMES = ['llama3-tiny-bf16', 'qwen2-tiny-bf16-sharded'] as const;
