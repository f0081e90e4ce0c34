/**
 * No partial output: every file is written to a temporary sibling and renamed into place, and a
 * command's output folder is built in a temporary sibling folder that replaces the target only when
 * the whole command succeeded (or is removed on failure).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { releaseTemp, tempPath } from './temp';

const tmpSibling = tempPath;

/** Removes a temp of this process (after a failure). */
function dropTemp(tmp: string): void {
  fs.rmSync(tmp, { recursive: true, force: true });
  releaseTemp(tmp);
}

/** Writes `data` to `file` atomically (temp file + rename). */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = tmpSibling(file);
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
    releaseTemp(tmp);
  } catch (e) {
    dropTemp(tmp);
    throw e;
  }
}

/**
 * Builds an output folder atomically: `build` fills a temporary folder; on success it replaces
 * `dir` (an existing `dir` is kept until then, and removed only when `replace` is true — otherwise
 * new files are merged in); on failure the temporary folder is removed and `dir` is untouched.
 */
export async function withAtomicDir<T>(dir: string, build: (tmpDir: string) => Promise<T> | T, replace = false): Promise<T> {
  const target = path.resolve(dir);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = tmpSibling(target);
  fs.mkdirSync(tmp);
  try {
    const r = await build(tmp);
    if (fs.existsSync(target) && !replace) {
      moveInto(tmp, target);
      dropTemp(tmp);
    } else {
      if (fs.existsSync(target)) {
        // the old folder is moved aside first (a temp of this process), so a kill leaves either
        // the old or the new folder in place, and the old one as a stale temp to sweep
        const old = tmpSibling(target);
        fs.renameSync(target, old);
        fs.renameSync(tmp, target);
        releaseTemp(tmp);
        dropTemp(old);
      } else {
        fs.renameSync(tmp, target);
        releaseTemp(tmp);
      }
    }
    return r;
  } catch (e) {
    dropTemp(tmp);
    throw e;
  }
}

function moveInto(src: string, dst: string): void {
  for (const entry of fs.readdirSync(src, { withFileTypes: true })) {
    const s = path.join(src, entry.name);
    const d = path.join(dst, entry.name);
    if (entry.isDirectory()) {
      fs.mkdirSync(d, { recursive: true });
      moveInto(s, d);
    } else {
      fs.renameSync(s, d);
    }
  }
}
