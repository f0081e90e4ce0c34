/**
 * The default probe set shipped in `data/probes.jsonl` (see `data/README.md`): harmful prompts with
 * a refusal and a compliance opening each, and benign prompts with short helpful answers, in
 * en, it, zh, hi, fr, ru, ar, bn.
 */
import * as path from 'node:path';
import { readCalibrationJsonl } from './schema';
import type { CalibrationRecord } from './schema';

/** `data/probes.jsonl` of this package (resolved from both `src/data` and `dist/data`). */
export const DEFAULT_PROBES_FILE = path.resolve(__dirname, '../../data/probes.jsonl');

export const PROBE_LANGUAGES = ['en', 'it', 'zh', 'hi', 'fr', 'ru', 'ar', 'bn'] as const;

/** Reads the probe set (or another calibration file in the same schema). */
export function loadProbes(file: string = DEFAULT_PROBES_FILE): CalibrationRecord[] {
  return readCalibrationJsonl(file);
}
