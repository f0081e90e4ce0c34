export { CheckpointTokenizer, SPECIAL_TOKEN_NAMES } from './tokenizer';
export type { ChatMessage, RenderOptions, SpecialTokenName, TokenRef } from './tokenizer';
export { loadTokenizer } from './load';
export { IGNORE_INDEX, buildExample, encodePrompt, encodeResponse, promptMessages } from './example';
export type { Example, ExampleOptions, Turn } from './example';
export { collate } from './collate';
export type { Batch, Sequence } from './collate';
