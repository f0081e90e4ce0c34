/**
 * `sil` from code: the public API (`require('sil')`, package.json `main`). What is exported here
 * is kept stable; everything else is internal and may change. Each entry is the library behind a
 * command, taking the same options (camelCase) and returning what the command prints as JSON.
 *
 *   checkpoints   Checkpoint (lazy safetensors folder), SafetensorsFile, writeSafetensors
 *   sil delta     computeDelta
 *   sil locate    locate(resolveOptions({ base, attacked, out, … })), replay helpers
 *   sil mask      readMask, writeMask, MaskFile, parseMaskExpr / evalMaskExpr, set algebra
 *   sil stitch    stitchCheckpoint
 *   sil finetune  finetune
 *   sil eval      evaluate, wilson (95 % interval of a rate)
 *   sil sweep     sweep
 *   sil report    writeReport, loadRun, buildReport
 *   data          readCalibrationJsonl, loadMultiJail, loadPolyRefuse
 *   tokenizer     loadTokenizer, buildExample, collate
 *   model         CausalLM, useBackend
 *   errors        SilError, isSilError
 */
export { SilError, isSilError } from './errors';
export type { SilErrorCode } from './errors';

export { Checkpoint } from './io/checkpoint';
export { SafetensorsFile } from './io/safetensors';
export { SafetensorsWriter, writeSafetensors } from './io/writer';
export { sha256Path, tokenizerSha256 } from './io/provenance';

export { computeDelta } from './delta/compute';
export type { DeltaOptions, DeltaResultSet, TensorDelta } from './delta/compute';

export { locate, resolveOptions } from './locate';
export type { LocateConfig, LocateManifest, LocateOptions } from './locate';
export { checkInputs, compareMasks, readManifest, replayOptions } from './locate/replay';
export { calibrationExamples } from './locate/calibration';

export { MaskFile, readMask, writeMask } from './mask/maskfile';
export type { Mask, MaskTensor } from './mask/mask';
export { and, difference, intersectAll, not, or, unionAll, xor } from './mask/algebra';
export { evalMaskExpr, parseMaskExpr } from './mask/expr';

export { stitchCheckpoint } from './stitch/stitch';
export type { StitchOptions, StitchResult } from './stitch/stitch';

export { finetune } from './train/finetune';
export type { FinetuneOptions, FinetuneResult } from './train/finetune';

export { evaluate, loadEvalPrompts, readViolations } from './eval/evaluate';
export type { EvalOptions, EvalResult } from './eval/evaluate';
export type { ViolationRecord } from './eval/conditions';
export { wilson } from './stats/wilson';

export { sweep } from './sweep/sweep';
export type { SweepOptions, SweepResult } from './sweep/sweep';

export { buildReport, loadRun, writeReport } from './report';
export type { Report, RunData } from './report';

export { loadMultiJail, loadPolyRefuse, readCalibrationJsonl } from './data';
export type { CalibrationRecord } from './data';
export { buildExample, collate, loadTokenizer } from './tokenizer';

export { CausalLM, useBackend } from './model';
