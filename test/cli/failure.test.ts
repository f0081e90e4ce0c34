/**
 * Every failure is one typed line and exit 2: operating-system errors (no space, permission, a
 * device or a folder where a file is expected), usage errors, and anything that escapes (INTERNAL,
 * with the stack only under SIL_DEBUG=1). Nothing is left behind.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Faults injected into the file system calls sil makes (a full disk, a permission error). */
const mockFaults: { writeSync?: (...a: unknown[]) => void; writeFileSync?: (...a: unknown[]) => void; openSync?: (...a: unknown[]) => void; opened?: (p: unknown, fd: number) => void } = {};
jest.mock('node:fs', () => {
  const actual = jest.requireActual('node:fs');
  return {
    ...actual,
    writeSync: (...a: unknown[]) => (mockFaults.writeSync?.(...a), actual.writeSync(...a)),
    writeFileSync: (...a: unknown[]) => (mockFaults.writeFileSync?.(...a), actual.writeFileSync(...a)),
    openSync: (...a: unknown[]) => {
      mockFaults.openSync?.(...a);
      const fd = actual.openSync(...a);
      mockFaults.opened?.(a[0], fd);
      return fd;
    },
  };
});

import { runSil as sil } from '../helpers/cli';
import { describeFailure } from '../../src/cli/failure';
import { SilError } from '../../src/errors';
import { Checkpoint } from '../../src/io/checkpoint';
import { writeMask } from '../../src/mask/maskfile';
import { tmpDir, writeTinyPair } from '../score/tiny-pair';

function errno(code: string, syscall: string, p: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: ${syscall} '${p}'`) as NodeJS.ErrnoException;
  e.code = code;
  e.syscall = syscall;
  e.path = p;
  return e;
}

/** Every file under `dir`, relative. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else out.push(r);
    }
  };
  walk(dir, '');
  return out.sort();
}

let tmp: string;
let pair: { base: string; attacked: string };
let mask: string;
beforeEach(() => {
  tmp = tmpDir('failure');
  pair = writeTinyPair(tmp, (_n, _s, v) => {
    v[0] += 1 / 64;
  });
  const b = Checkpoint.open(pair.base);
  mask = path.join(tmp, 'm.safetensors');
  writeMask(mask, { tensors: b.names().map((name) => ({ name, shape: b.info(name).shape, data: new Uint8Array(b.info(name).numel).fill(1) })) });
  b.close();
});
afterEach(() => {
  delete mockFaults.writeSync;
  delete mockFaults.writeFileSync;
  delete mockFaults.openSync;
  delete mockFaults.opened;
  jest.restoreAllMocks();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('operating-system errors', () => {
  it('--base /dev/null is a typed NOT_A_FILE naming the device, exit 2', async () => {
    const r = await sil('delta', '--base', '/dev/null', '--attacked', pair.attacked, '--out', path.join(tmp, 'o'));
    expect(r.code).toBe(2);
    expect(r.err).toBe('sil: error [NOT_A_FILE]: a checkpoint folder or .safetensors file is expected, found a device or special file (file /dev/null)\n');
    expect(fs.existsSync(path.join(tmp, 'o'))).toBe(false);
  });

  it('a shard that is a folder is a typed NOT_A_FILE naming the shard', async () => {
    const bad = path.join(tmp, 'bad');
    fs.mkdirSync(path.join(bad, 'model.safetensors'), { recursive: true });
    fs.copyFileSync(path.join(pair.base, 'config.json'), path.join(bad, 'config.json'));
    const r = await sil('stitch', '--base', bad, '--attacked', pair.attacked, '--mask', mask, '--out', path.join(tmp, 'o'));
    expect(r.code).toBe(2);
    expect(r.err).toBe(`sil: error [NOT_A_FILE]: a safetensors file is expected, found a folder (file ${path.join(bad, 'model.safetensors')})\n`);
  });

  it('a full disk (ENOSPC) while a mask is written is one NO_SPACE line naming the file, and leaves neither output nor temp', async () => {
    // the disk fills up once the mask's temp file is being written
    const temps = new Map<number, string>();
    mockFaults.opened = (p, fd) => {
      if (String(p).includes('.tmp-')) temps.set(fd, String(p));
    };
    mockFaults.writeSync = (fd) => {
      if (temps.has(fd as number)) throw errno('ENOSPC', 'write', temps.get(fd as number)!);
    };
    const out = path.join(tmp, 'inv.safetensors');
    const before = tree(tmp);
    const r = await sil('mask', 'invert', mask, '--out', out);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`^sil: error \\[NO_SPACE\\]: no space left on the device \\(write ${tmp}/\\.tmp-\\d+-[0-9a-z]+-inv\\.safetensors\\) \\[ENOSPC\\]\\n$`));
    expect(tree(tmp)).toEqual(before);
  });

  it('a full disk while sil delta writes its tables leaves no output folder and no temp', async () => {
    mockFaults.writeFileSync = (f) => {
      if (String(f).endsWith('.csv')) throw errno('ENOSPC', 'write', String(f));
    };
    const before = tree(tmp);
    const r = await sil('delta', '--base', pair.base, '--attacked', pair.attacked, '--out', path.join(tmp, 'd'), '--threads', '0');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^sil: error \[NO_SPACE\]: no space left on the device \(write .*\.csv\) \[ENOSPC\]\n$/);
    expect(tree(tmp)).toEqual(before);
  });

  it('a permission error (EACCES) on the output is one PERMISSION_DENIED line naming the path', async () => {
    mockFaults.openSync = (p) => {
      if (String(p).includes('.tmp-')) throw errno('EACCES', 'open', String(p));
    };
    const r = await sil('mask', 'convert', mask, '--out', path.join(tmp, 'c.safetensors'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`^sil: error \\[PERMISSION_DENIED\\]: permission denied \\(open ${tmp}/\\.tmp-\\d+-[0-9a-z]+-c\\.safetensors\\) \\[EACCES\\]\\n$`));
  });

  it('maps ENOTDIR, EISDIR and unknown errno codes to typed lines with the path', () => {
    expect(describeFailure(errno('ENOTDIR', 'mkdir', '/a/file/b'))).toEqual({ code: 'IO_ERROR', message: 'a part of the path is a file where a folder is expected (mkdir /a/file/b) [ENOTDIR]' });
    expect(describeFailure(errno('EISDIR', 'open', '/a/dir'))).toEqual({ code: 'IO_ERROR', message: 'is a folder where a file is expected (open /a/dir) [EISDIR]' });
    expect(describeFailure(errno('EROFS', 'open', '/ro/x'))).toEqual({ code: 'PERMISSION_DENIED', message: 'read-only file system (open /ro/x) [EROFS]' });
    expect(describeFailure(errno('EWEIRD', 'open', '/x')).code).toBe('IO_ERROR');
    expect(describeFailure(new SilError('MASK_MISMATCH', 'm', { file: 'f' }))).toEqual({ code: 'MASK_MISMATCH', message: 'm (file f)' });
  });
});

describe('what escapes', () => {
  it('a RangeError or a wasm abort inside a command is one INTERNAL line pointing to SIL_DEBUG=1, exit 2', async () => {
    jest.spyOn(Checkpoint, 'open').mockImplementation(() => {
      throw new RangeError('Invalid typed array length: 1099511627776');
    });
    const r = await sil('delta', '--base', pair.base, '--attacked', pair.attacked, '--out', path.join(tmp, 'o'));
    expect(r.code).toBe(2);
    expect(r.err.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.err).toMatch(/^sil: error \[INTERNAL\]: RangeError: Invalid typed array length: 1099511627776 \(the step ran out of memory: .*\); .* re-run with SIL_DEBUG=1 for the stack\n$/);
    expect(describeFailure(new WebAssembly.RuntimeError('memory access out of bounds')).message).toMatch(/^RuntimeError: memory access out of bounds \(the step ran out of memory/);
  });

  it('SIL_DEBUG=1 adds the stack after the line', async () => {
    jest.spyOn(Checkpoint, 'open').mockImplementation(() => {
      throw new TypeError('x is not a function');
    });
    process.env.SIL_DEBUG = '1';
    try {
      const r = await sil('delta', '--base', pair.base, '--attacked', pair.attacked, '--out', path.join(tmp, 'o'));
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/^sil: error \[INTERNAL\]: TypeError: x is not a function; .*\nTypeError: x is not a function\n\s+at /);
    } finally {
      delete process.env.SIL_DEBUG;
    }
  });

  it('usage errors (unknown option, missing value, unknown command) exit 2; --help and --version exit 0', async () => {
    expect((await sil('delta', '--bogus')).code).toBe(2);
    expect((await sil('locate', '--out')).code).toBe(2);
    expect((await sil('frobnicate')).code).toBe(2);
    expect((await sil('mask', 'convert')).code).toBe(2);
    expect((await sil('--version')).code).toBe(0);
    expect((await sil('delta', '--help')).code).toBe(0);
  });
});
