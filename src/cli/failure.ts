/**
 * Every failure is one typed line on stderr and exit 2: sil's own errors as they are, operating
 * system errors (no space, permission, a file where a folder is expected, …) with the path they
 * concern, and anything else — a wasm abort, a RangeError, an allocation that failed — as INTERNAL
 * with a pointer to SIL_DEBUG=1, which adds the stack.
 */
import { isSilError } from '../errors';
import type { SilErrorCode } from '../errors';

export interface Failure {
  code: SilErrorCode;
  message: string;
}

const OS_MESSAGES: Record<string, [SilErrorCode, string]> = {
  ENOSPC: ['NO_SPACE', 'no space left on the device'],
  EDQUOT: ['NO_SPACE', 'disk quota exceeded'],
  EFBIG: ['NO_SPACE', 'file too large for the file system'],
  EACCES: ['PERMISSION_DENIED', 'permission denied'],
  EPERM: ['PERMISSION_DENIED', 'operation not permitted'],
  EROFS: ['PERMISSION_DENIED', 'read-only file system'],
  ENOTDIR: ['IO_ERROR', 'a part of the path is a file where a folder is expected'],
  EISDIR: ['IO_ERROR', 'is a folder where a file is expected'],
  ENOENT: ['FILE_NOT_FOUND', 'no such file or folder'],
  EEXIST: ['IO_ERROR', 'already exists'],
  EMFILE: ['IO_ERROR', 'too many open files'],
  ENFILE: ['IO_ERROR', 'too many open files in the system'],
  ENAMETOOLONG: ['IO_ERROR', 'file name too long'],
  ELOOP: ['IO_ERROR', 'too many levels of symbolic links'],
  EIO: ['IO_ERROR', 'input/output error'],
  EXDEV: ['IO_ERROR', 'cannot move across file systems'],
  EBUSY: ['IO_ERROR', 'resource busy'],
  ENXIO: ['IO_ERROR', 'no such device'],
  ENODEV: ['IO_ERROR', 'no such device'],
  ESPIPE: ['IO_ERROR', 'not a regular file (cannot seek)'],
  EINVAL: ['IO_ERROR', 'invalid argument for the operating system'],
};

function isErrno(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && /^E[A-Z0-9]+$/.test((e as NodeJS.ErrnoException).code!);
}

/** What to print for `e`. */
export function describeFailure(e: unknown): Failure {
  if (isSilError(e)) return { code: e.code, message: e.message };
  if (isErrno(e)) {
    const [code, what] = OS_MESSAGES[e.code!] ?? ['IO_ERROR', e.code!];
    const dest = (e as { dest?: string }).dest;
    const where = e.path ? ` (${e.syscall ? `${e.syscall} ` : ''}${e.path}${dest ? ` → ${dest}` : ''})` : e.syscall ? ` (${e.syscall})` : '';
    return { code, message: `${what}${where} [${e.code}]` };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  const memory = /out of memory|allocation failed|Invalid typed array length|Array buffer allocation|memory access out of bounds|Maximum call stack/i.test(err.message);
  const first = (err.message || err.name).split('\n')[0];
  return {
    code: 'INTERNAL',
    message: `${err.name && err.name !== 'Error' ? `${err.name}: ` : ''}${first}${memory ? ' (the step ran out of memory: try a smaller --batch-size, fewer --threads, or --stream always)' : ''}; this is a bug or a limit sil does not check yet — re-run with SIL_DEBUG=1 for the stack`,
  };
}

/** Writes the failure line (and with SIL_DEBUG=1 the stack) and returns the exit code, 2. */
export function reportFailure(e: unknown, stream: NodeJS.WritableStream = process.stderr): number {
  const f = describeFailure(e);
  stream.write(`sil: error [${f.code}]: ${f.message}\n`);
  if (process.env.SIL_DEBUG && process.env.SIL_DEBUG !== '0' && e instanceof Error && e.stack) stream.write(`${e.stack}\n`);
  return 2;
}
