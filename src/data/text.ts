/**
 * Text input files (calibration JSONL, CSV, JSON): read whole, checked to be valid UTF-8 with lines
 * of a sane size, before any parsing. A byte sequence that is not UTF-8 is an INVALID_DATA error with
 * its line and byte offset (never silently decoded to U+FFFD); a line over `MAX_LINE_BYTES` or a file
 * over `MAX_TEXT_FILE_BYTES` is rejected rather than tokenized.
 */
import * as fs from 'node:fs';
import { SilError } from '../errors';

/** Longest line accepted: 10 MiB (a prompt that long is no calibration example). */
export const MAX_LINE_BYTES = 10 * 2 ** 20;
/** Largest text file accepted: 1 GiB. */
export const MAX_TEXT_FILE_BYTES = 2 ** 30;

/**
 * Byte index of the first byte that does not start or continue a well-formed UTF-8 sequence
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), or -1 when `b` is valid.
 */
export function firstInvalidUtf8(b: Uint8Array): number {
  const n = b.length;
  let i = 0;
  while (i < n) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0;
      else if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      else if (c === 0xf4) hi = 0x8f;
    } else return i;
    if (i + need >= n) return i; // truncated at the end
    const second = b[i + 1];
    if (second < lo || second > hi) return i;
    for (let k = 2; k <= need; k++) {
      const x = b[i + k];
      if (x < 0x80 || x > 0xbf) return i;
    }
    i += need + 1;
  }
  return -1;
}

/** 1-based line and 0-based byte offset within that line of byte `at`. */
export function lineAndOffset(b: Uint8Array, at: number): { line: number; offset: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < at; i++) {
    if (b[i] === 0x0a) {
      line++;
      start = i + 1;
    }
  }
  return { line, offset: at - start };
}

/** Checks bytes as a text input (UTF-8, line sizes) and returns the decoded text without a BOM. */
export function decodeTextInput(b: Uint8Array, file: string, maxLineBytes = MAX_LINE_BYTES): string {
  const bad = firstInvalidUtf8(b);
  if (bad >= 0) {
    const { line, offset } = lineAndOffset(b, bad);
    throw new SilError('INVALID_DATA', `not valid UTF-8: line ${line}, byte ${offset} of the line (byte ${bad} of the file) is 0x${b[bad].toString(16).padStart(2, '0')}; save the file as UTF-8`, { file });
  }
  let start = 0;
  let line = 1;
  for (let i = 0; i <= b.length; i++) {
    if (i === b.length || b[i] === 0x0a) {
      if (i - start > maxLineBytes) {
        throw new SilError('INVALID_DATA', `line ${line} is ${i - start} bytes; lines over ${maxLineBytes} bytes (${(maxLineBytes / 2 ** 20).toFixed(0)} MiB) are rejected`, { file });
      }
      start = i + 1;
      line++;
    }
  }
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8').replace(/^\uFEFF/, '');
}

/**
 * Reads a text input file: FILE_NOT_FOUND when it cannot be read (`what` names it: "calibration
 * file", …), INVALID_DATA when it is too large, not UTF-8 or has an overlong line.
 */
export function readTextInput(file: string, what: string, maxLineBytes = MAX_LINE_BYTES): string {
  let size: number;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new SilError('INVALID_DATA', `${what} is not a regular file`, { file });
    size = st.size;
  } catch (e) {
    if (e instanceof SilError) throw e;
    throw new SilError('FILE_NOT_FOUND', `${what} not found`, { file });
  }
  if (size > MAX_TEXT_FILE_BYTES) throw new SilError('INVALID_DATA', `${what} is ${size} bytes; text inputs over ${MAX_TEXT_FILE_BYTES} bytes (1 GiB) are rejected`, { file });
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new SilError('FILE_NOT_FOUND', `${what} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file });
  }
  return decodeTextInput(bytes, file, maxLineBytes);
}
