/**
 * `sil locate`: per-language safety masks for a checkpoint pair. Entry point `locate(resolveOptions(o), progress)`;
 * `openGradientSource` picks the in-memory or the layer-streamed gradient source.
 */
export { locate } from './run';
export type { LocateManifest, MaskReport, SetReport } from './manifest';
export { resolveOptions, parseK } from './options';
export type { LocateConfig, LocateOptions } from './options';
export { openGradientSource } from './source';
export { planGradients } from '../model/planner';
export type { BatchResult, GradConsumer, GradientPlan, GradientSource, SourceContext } from './source';
export { GradFile } from './gradfile';
export type { GradField } from './gradfile';
export { fieldsFor, scoreRange, scoreSource, SCORES, REDUCES } from './scores';
export type { ScoreName, Reduce, ScoreInputs } from './scores';
export { greedyGenerator } from './generate';
