/** Text inputs are valid UTF-8 with lines of a sane size, or a typed error says where they are not. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeTextInput, firstInvalidUtf8, readTextInput } from '../../src/data/text';
import { readCalibrationJsonl } from '../../src/data/schema';
import { SilError } from '../../src/errors';

const bytes = (...xs: number[]) => Uint8Array.from(xs);

describe('firstInvalidUtf8', () => {
  it('agrees with a fatal TextDecoder on valid and invalid sequences', () => {
    const cases: Uint8Array[] = [
      Buffer.from('héllo wörld 你好 🙂', 'utf8'),
      bytes(0x61, 0xff),
      bytes(0xc0, 0x80), // overlong
      bytes(0xe0, 0x80, 0x80), // overlong
      bytes(0xed, 0xa0, 0x80), // surrogate
      bytes(0xf4, 0x90, 0x80, 0x80), // above U+10FFFF
      bytes(0xe4, 0xbd), // truncated
      bytes(0x80),
      bytes(0xf0, 0x9f, 0x99, 0x82, 0x41),
    ];
    const strict = new TextDecoder('utf-8', { fatal: true });
    for (const c of cases) {
      let valid = true;
      try {
        strict.decode(c);
      } catch {
        valid = false;
      }
      expect(firstInvalidUtf8(c) === -1).toBe(valid);
    }
    expect(firstInvalidUtf8(bytes(0x61, 0x62, 0xff))).toBe(2);
  });
});

describe('decodeTextInput', () => {
  it('names the line and the byte offset of the first byte that is not UTF-8', () => {
    const b = Buffer.concat([Buffer.from('{"a": 1}\n{"b": "caf'), bytes(0xe9), Buffer.from('"}\n')]); // Latin-1 é
    expect(() => decodeTextInput(b, 'x.jsonl')).toThrow(/not valid UTF-8: line 2, byte 10 of the line \(byte 19 of the file\) is 0xe9.*file x\.jsonl/);
  });

  it('rejects a line over the limit and strips a BOM', () => {
    expect(() => decodeTextInput(Buffer.from('ok\n' + 'x'.repeat(101) + '\n'), 'f', 100)).toThrow(/line 2 is 101 bytes; lines over 100 bytes/);
    expect(decodeTextInput(Buffer.from('\uFEFFab\n'), 'f')).toBe('ab\n');
  });
});

describe('calibration files', () => {
  it('are refused with INVALID_DATA when not UTF-8, instead of being decoded to U+FFFD', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-text-'));
    const f = path.join(dir, 'latin1.jsonl');
    fs.writeFileSync(f, Buffer.concat([Buffer.from('{"id": "x", "lang": "it", "kind": "benign", "prompt": "perch'), bytes(0xe9), Buffer.from('?", "response": "ok"}\n')]));
    let err: unknown;
    try {
      readCalibrationJsonl(f);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SilError);
    expect((err as SilError).code).toBe('INVALID_DATA');
    expect((err as Error).message).toMatch(/line 1, byte 60 of the line/);
    expect(() => readTextInput(dir, 'calibration file')).toThrow(/calibration file is not a regular file/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
