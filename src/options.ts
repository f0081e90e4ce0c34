/**
 * Numeric command-line options, checked before any work: one parser per kind of number, each
 * rejection an INVALID_ARGUMENT SilError that names the flag, the accepted range and what was given.
 * Every command parses its numbers here, so `--threads 1e9` or `--batch-size -3` fail the same way
 * everywhere.
 */
import * as os from 'node:os';
import { SilError } from './errors';

function bad(msg: string): never {
  throw new SilError('INVALID_ARGUMENT', msg);
}

const shown = (v: unknown) => JSON.stringify(v);

/** Logical cores of this machine. */
export function coreCount(): number {
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

/** Most worker threads any command starts: 4 × cores (more only costs memory: each holds a backend or buffers). */
export function maxThreads(cores = coreCount()): number {
  return 4 * cores;
}

/**
 * The integer a command-line text spells, or NaN: decimal notation only (`12`, `+3`, `-0`, `1e3`,
 * `2.0`), and only when the decimal value itself is an integer. Number() alone would take `2e-400`
 * (which underflows to 0), `1.00000000000000001` (which rounds to 1) and `0x10` as integers.
 */
export function integerOf(text: string): number {
  const m = /^\s*[+-]?(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?\s*$/i.exec(text);
  if (!m || m[1] + (m[2] ?? '') === '') return NaN;
  // the digits left after the decimal point once the exponent has moved it must all be zeros
  const digits = m[1] + (m[2] ?? '');
  const point = m[1].length + Number(m[3] ?? 0);
  if (/[1-9]/.test(digits.slice(Math.max(0, point)))) return NaN;
  const n = Number(text);
  return n === 0 ? 0 : n;
}

/** An integer in [min, max] (`undefined` when not given). */
export function intOption(flag: string, v: string | number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined) return undefined;
  const n = typeof v === 'number' ? v : integerOf(String(v));
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    bad(`${flag} must be an integer ${max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`}, got ${shown(v)}`);
  }
  return n;
}

/** A finite number in [min, max] (`undefined` when not given). */
export function numberOption(flag: string, v: string | number | undefined, min = -Number.MAX_VALUE, max = Number.MAX_VALUE): number | undefined {
  if (v === undefined) return undefined;
  const n = typeof v === 'number' ? v : String(v).trim() === '' ? NaN : Number(v);
  if (!Number.isFinite(n) || n < min || n > max) bad(`${flag} must be a finite number${min > -Number.MAX_VALUE || max < Number.MAX_VALUE ? ` from ${min} to ${max}` : ''}, got ${shown(v)}`);
  return n;
}

/** `--name`'s value as a number in [min, max], an integer where `int` (the option has a default, so it is given). */
export function boundedOption(name: string, v: string, int = false, min?: number, max?: number): number {
  return (int ? intOption(`--${name}`, v, min ?? Number.MIN_SAFE_INTEGER, max) : numberOption(`--${name}`, v, min, max))!;
}

/** A comma-separated list, each item trimmed, empty items dropped (`undefined` when not given). */
export function listOption(v: string): string[];
export function listOption(v: string | undefined): string[] | undefined;
export function listOption(v: string | undefined): string[] | undefined {
  return v
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A fraction in (0, 1] (`dflt` when not given). */
export function fractionOption(flag: string, v: string | number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const x = typeof v === 'number' ? v : String(v).trim() === '' ? NaN : Number(v);
  if (!(x > 0 && x <= 1)) bad(`${flag} must be a fraction in (0, 1], got ${shown(v)}`);
  return x;
}

/**
 * `--threads`: an integer from `min` (0 where the command can run on its main thread) to 4 × cores;
 * all cores when not given.
 */
export function threadsOption(v: string | number | undefined, min = 1, cores = coreCount()): number {
  if (v === undefined) return cores;
  const n = typeof v === 'number' ? v : integerOf(String(v));
  if (!Number.isSafeInteger(n) || n < min) bad(`--threads must be an integer ≥ ${min}, got ${shown(v)}`);
  if (n > maxThreads(cores)) bad(`--threads ${n} is more than 4 × the ${cores} core(s) of this machine (at most ${maxThreads(cores)}); each thread holds its own buffers, so more only costs memory`);
  return n;
}
