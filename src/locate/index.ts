/**
 * `sil locate`: per-language safety masks for a checkpoint pair. Entry point `locate(resolveOptions(o), progress)`;
 * gradient sources are pluggable (`registerStreamedSource` for layer-streamed gradients).
 */
export { locate } from './run';
export type { LocateManifest, MaskReport, SetReport } from './run';
export { resolveOptions, parseK } from './options';
export type { LocateConfig, LocateOptions } from './options';
export { openGradientSource, planGradients, registerStreamedSource } from './source';
export type { BatchResult, GradConsumer, GradientPlan, GradientSource, SourceContext, SourceFactory } from './source';
export { GradFile } from './gradfile';
export type { GradField } from './gradfile';
export { fieldsFor, scoreRange, scoreSource, SCORES, REDUCES } from './scores';
export type { ScoreName, Reduce, ScoreInputs } from './scores';
export { greedyGenerator } from './generate';
