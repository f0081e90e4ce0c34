/** Numeric command-line options are checked before any work, with the flag and the range in the message. */
import { SilError } from '../src/errors';
import { fractionOption, intOption, maxThreads, numberOption, threadsOption } from '../src/options';
import { resolveOptions } from '../src/locate/options';

const message = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(SilError);
    expect((e as SilError).code).toBe('INVALID_ARGUMENT');
    return (e as Error).message;
  }
  throw new Error('expected a SilError');
};

describe('threadsOption', () => {
  it('allows up to 4 × cores and refuses 1e9 threads before any worker starts', () => {
    expect(threadsOption('8', 1, 2)).toBe(8);
    expect(threadsOption(undefined, 1, 2)).toBe(2);
    expect(message(() => threadsOption('9', 1, 2))).toMatch(/--threads 9 is more than 4 × the 2 core\(s\).*at most 8/);
    expect(message(() => threadsOption('1e9', 1, 2))).toMatch(/more than 4 ×/);
    expect(message(() => threadsOption('100000', 1, 2))).toMatch(/at most 8/);
    expect(maxThreads(16)).toBe(64);
  });

  it('takes 0 only where the command runs on its main thread, and no fractions, blanks or words', () => {
    expect(threadsOption('0', 0, 2)).toBe(0);
    expect(message(() => threadsOption('0', 1, 2))).toMatch(/--threads must be an integer ≥ 1, got "0"/);
    for (const v of ['1.5', '', ' ', 'two', '-1', 'NaN', 'Infinity']) expect(message(() => threadsOption(v, 0, 2))).toMatch(/--threads/);
  });

  it('takes only texts whose decimal value is an integer: not 2e-400 (0 after underflow), 1.00000000000000001 (1 after rounding) or 0x10', () => {
    for (const v of ['2e-400', '1e-9', '1.00000000000000001', '0x10', '0b1', '0o7', '1_000', '.', 'e3', '1e']) {
      expect(message(() => threadsOption(v, 0, 2))).toBe(`--threads must be an integer ≥ 0, got ${JSON.stringify(v)}`);
    }
    expect(threadsOption('-0', 0, 2)).toBe(0);
    expect(Object.is(threadsOption('-0', 0, 2), 0)).toBe(true);
    expect([' 2 ', '+2', '2.0', '2.', '0.2e1', '2e0'].map((v) => threadsOption(v, 0, 8))).toEqual([2, 2, 2, 2, 2, 2]);
  });
});

describe('intOption, numberOption and fractionOption', () => {
  it('accept values in range and name the flag and the range otherwise', () => {
    expect(intOption('--n', '12', 1, 16)).toBe(12);
    expect(intOption('--n', undefined, 1)).toBeUndefined();
    expect(message(() => intOption('--batch-size', '-3', 1, 65536))).toBe('--batch-size must be an integer from 1 to 65536, got "-3"');
    expect(message(() => intOption('--n', '1e300', 1))).toMatch(/--n must be an integer ≥ 1/);
    expect(intOption('--seed', '1e3', 0)).toBe(1000);
    for (const v of ['2e-400', '0.55e1', '12.5', '0x10']) expect(message(() => intOption('--seed', v, 0))).toBe(`--seed must be an integer ≥ 0, got ${JSON.stringify(v)}`);
    expect(numberOption('--lr', '2e-5', Number.MIN_VALUE, 10)).toBe(2e-5);
    expect(message(() => numberOption('--lr', '1e308', Number.MIN_VALUE, 10))).toMatch(/--lr must be a finite number/);
    expect(fractionOption('--k', '0.5', 0.2)).toBe(0.5);
    for (const v of ['0', '-0.1', '1.0001', 'NaN', '', '1e308']) expect(message(() => fractionOption('--k', v, 0.2))).toMatch(/--k must be a fraction in \(0, 1\]/);
  });
});

describe('sil locate options', () => {
  const o = { base: 'b', attacked: 'a', out: 'o', data: 'd.jsonl' };
  it('refuses out-of-range numbers before anything is read', () => {
    expect(message(() => resolveOptions({ ...o, threads: '1e9' }))).toMatch(/--threads/);
    expect(message(() => resolveOptions({ ...o, k: '-1' }))).toMatch(/--k must be a fraction/);
    expect(message(() => resolveOptions({ ...o, batchSize: '1e9' }))).toMatch(/--batch-size must be an integer from 1 to 65536/);
    expect(message(() => resolveOptions({ ...o, maxLength: '1' }))).toMatch(/--max-length must be an integer from 2/);
    expect(message(() => resolveOptions({ ...o, seed: '-1' }))).toMatch(/--seed/);
    expect(resolveOptions({ ...o, batchSize: '16', threads: '1' })).toMatchObject({ batchSize: 16, threads: 1 });
  });
});
