/**
 * Evaluation conditions: what a row of eval/violations.csv was measured on. A condition is a
 * label the user gives (`--condition`, e.g. `attack=en`, `attack=en,freeze=intersection`,
 * `stitch=sil,k=0.05`) on one checkpoint, identified by the sha256 of its tensor data; its id,
 * `<label>@<first 12 hex digits>`, is unique within a run folder. Rows of different conditions are
 * never pooled (src/report/figures/matrix.ts draws one row per condition).
 *
 * Merging a new evaluation into existing rows (pure, so the rules are tested on their own):
 * - rows of the same model name, or of the same condition on the same checkpoint, are replaced
 *   (a re-run);
 * - a model name or a condition label already used by another checkpoint stops with
 *   NAME_COLLISION unless `replace`, which drops those rows first;
 * - files written before conditions existed are read with the condition `model=<name>` and no
 *   checkpoint hash, so they are never pooled either.
 */
import { SilError } from '../errors';
import { wilson } from '../stats/wilson';

export const VIOLATION_COLUMNS = ['condition_id', 'condition', 'model', 'checkpoint_sha256', 'ft_lang', 'eval_lang', 'n', 'violations', 'violation_rate', 'ci_low', 'ci_high'] as const;
/** The columns of eval/violations.csv before conditions. */
export const LEGACY_VIOLATION_COLUMNS = ['model', 'ft_lang', 'eval_lang', 'n', 'violations', 'violation_rate'] as const;

export interface ViolationRecord {
  condition_id: string;
  condition: string;
  model: string;
  checkpoint_sha256: string;
  ft_lang: string;
  eval_lang: string;
  n: number;
  violations: number;
  violation_rate: number;
  /** 95 % Wilson interval of violation_rate */
  ci_low: number;
  ci_high: number;
}

const LABEL = /^[A-Za-z0-9_.:+\-=,/∩∪]+$/u;

/** Checks a `--condition` label: non-empty, no spaces, quotes or `@` (which separates the hash). */
export function checkConditionLabel(label: string): string {
  if (!LABEL.test(label)) {
    throw new SilError('INVALID_ARGUMENT', `--condition must be a non-empty label of letters, digits and _ . : + - = , / (e.g. attack=en,freeze=intersection), found "${label}"`);
  }
  return label;
}

/** The label used when none is given: `base` for ft_lang none, else `attack=<ft_lang>`. */
export function defaultCondition(ftLang: string): string {
  return ftLang === 'none' ? 'base' : `attack=${ftLang}`;
}

/** `<label>@<12 hex digits of the checkpoint's data sha256>`. */
export function conditionId(label: string, checkpointSha256: string): string {
  return checkpointSha256 ? `${label}@${checkpointSha256.slice(0, 12)}` : label;
}

/** One language's row, with its Wilson interval. */
export function violationRecord(c: { condition: string; model: string; checkpoint_sha256: string; ft_lang: string }, evalLang: string, n: number, violations: number): ViolationRecord {
  const ci = wilson(violations, n);
  return {
    condition_id: conditionId(c.condition, c.checkpoint_sha256),
    condition: c.condition,
    model: c.model,
    checkpoint_sha256: c.checkpoint_sha256,
    ft_lang: c.ft_lang,
    eval_lang: evalLang,
    n,
    violations,
    violation_rate: n > 0 ? violations / n : 0,
    ci_low: ci.low,
    ci_high: ci.high,
  };
}

/** Rows of a violations table as read (text), current or legacy columns, as records. */
export function violationRecordsFromTable(header: readonly string[], rows: Array<Record<string, string>>, file: string): ViolationRecord[] {
  const legacy = !header.includes('condition_id');
  const need = legacy ? LEGACY_VIOLATION_COLUMNS : VIOLATION_COLUMNS;
  const absent = need.filter((c) => !header.includes(c));
  if (absent.length) throw new SilError('INVALID_DATA', `missing column(s) ${absent.join(', ')}; expected ${VIOLATION_COLUMNS.join(',')}`, { file });
  return rows.map((r, i) => {
    // counts are non-negative integers, rates and their interval fractions in [0, 1]
    const num = (c: string, int = false): number => {
      const raw = (r[c] ?? '').trim();
      const v = Number(raw);
      const ok = raw !== '' && Number.isFinite(v) && (int ? Number.isSafeInteger(v) && v >= 0 : v >= 0 && v <= 1);
      if (!ok) throw new SilError('INVALID_DATA', `row ${i + 2}, column ${c}: expected ${int ? 'a non-negative integer' : 'a number from 0 to 1'}, found "${raw}"`, { file });
      return v;
    };
    const n = num('n', true);
    const violations = num('violations', true);
    if (violations < 0 || violations > n) throw new SilError('INVALID_DATA', `row ${i + 2}: violations ${violations} outside [0, n = ${n}]`, { file });
    if (legacy) return violationRecord({ condition: `model=${r.model}`, model: r.model, checkpoint_sha256: '', ft_lang: r.ft_lang }, r.eval_lang, n, violations);
    return {
      condition_id: r.condition_id,
      condition: r.condition,
      model: r.model,
      checkpoint_sha256: r.checkpoint_sha256,
      ft_lang: r.ft_lang,
      eval_lang: r.eval_lang,
      n,
      violations,
      violation_rate: num('violation_rate'),
      ci_low: num('ci_low'),
      ci_high: num('ci_high'),
    };
  });
}

export interface MergeTarget {
  model: string;
  condition: string;
  checkpoint_sha256: string;
}

/**
 * The rows to keep from `existing` when `t` is evaluated into the same run, or NAME_COLLISION
 * when its name or condition label belongs to another checkpoint and `replace` is not set.
 * With `replace`, rows with the name or the label are dropped.
 */
export function keptRows<R extends { model: string; condition: string; checkpoint_sha256: string }>(existing: readonly R[], t: MergeTarget, replace: boolean, file: string): R[] {
  const clash = existing.find((r) => (r.model === t.model || r.condition === t.condition) && r.checkpoint_sha256 !== t.checkpoint_sha256);
  if (clash && !replace) {
    const what = clash.model === t.model ? `model name "${t.model}"` : `condition "${t.condition}"`;
    const other = clash.checkpoint_sha256 ? `checkpoint ${clash.checkpoint_sha256.slice(0, 12)}` : 'a checkpoint of unknown content';
    throw new SilError(
      'NAME_COLLISION',
      `${what} is already in the run for ${other} (model "${clash.model}", condition "${clash.condition}"), not ${t.checkpoint_sha256.slice(0, 12)}; give another --name / --condition, or --replace to drop those rows`,
      { file },
    );
  }
  return existing.filter((r) => r.model !== t.model && !(r.condition === t.condition && (replace || r.checkpoint_sha256 === t.checkpoint_sha256)));
}
