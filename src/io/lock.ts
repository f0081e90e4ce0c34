/**
 * One writer per output: a command that writes a folder (or file) holds a lock beside it,
 * `.<name>.sil-lock`, created exclusively and holding the pid, the command and the start time.
 * A second process gets LOCKED naming the holder's pid. A lock whose process is gone (a kill -9)
 * is broken and taken over. Locks are released when the command ends, however it ends.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SilError } from '../errors';
import { isAlive } from './temp';

interface LockInfo {
  pid: number;
  command: string;
  started: string;
}

const held = new Set<string>();

/** The lock file of an output path. */
export function lockPath(out: string): string {
  const abs = path.resolve(out);
  return path.join(path.dirname(abs), `.${path.basename(abs)}.sil-lock`);
}

function readLock(file: string): LockInfo | null {
  try {
    const j = JSON.parse(fs.readFileSync(file, 'utf8')) as LockInfo;
    return typeof j?.pid === 'number' ? j : null;
  } catch {
    return null;
  }
}

/**
 * Takes the lock of `out` for `command`, or throws LOCKED when a live process holds it. Returns a
 * release function (also run when the process exits).
 */
export function acquireLock(out: string, command: string): () => void {
  const file = lockPath(out);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const info: LockInfo = { pid: process.pid, command, started: new Date().toISOString() };
  let waited = 0;
  let breaks = 0;
  for (;;) {
    try {
      const fd = fs.openSync(file, 'wx');
      try {
        fs.writeSync(fd, JSON.stringify(info) + '\n');
      } catch (e) {
        fs.closeSync(fd);
        fs.rmSync(file, { force: true });
        throw e;
      }
      fs.closeSync(fd);
      held.add(file);
      return () => releaseLock(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = readLock(file);
    if (holder && holder.pid === process.pid && held.has(file)) {
      throw new SilError('LOCKED', `${out} is already being written by this process (${holder.command})`, { file: out });
    }
    if (holder && isAlive(holder.pid)) {
      throw new SilError('LOCKED', `${out} is being written by sil ${holder.command} (pid ${holder.pid}, since ${holder.started}); wait for it to finish, or stop that process`, { file: out });
    }
    if (!holder && ageMs(file) < 2000 && waited < 25) {
      // a lock being written this instant has no content yet: give its writer a moment
      waited++;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
      continue;
    }
    if (breaks++ >= 3) throw new SilError('LOCKED', `cannot take the lock ${file}`, { file: out });
    // the holder is gone (or never wrote its pid, killed in that instant): break the stale lock,
    // renaming it first so that two breakers cannot both win
    const aside = `${file}.${process.pid}.stale`;
    try {
      fs.renameSync(file, aside);
      const moved = readLock(aside);
      if (moved && moved.pid !== holder?.pid && isAlive(moved.pid)) {
        // another process broke it first and took it: put its lock back
        try {
          fs.linkSync(aside, file);
        } catch {
          // a third one holds it now
        }
      }
      fs.rmSync(aside, { force: true });
    } catch {
      // another process broke it first; try again
    }
  }
}

function ageMs(file: string): number {
  try {
    return Date.now() - fs.statSync(file).mtimeMs;
  } catch {
    return Infinity;
  }
}

function releaseLock(file: string): void {
  if (!held.delete(file)) return;
  const holder = readLock(file);
  if (holder && holder.pid === process.pid) fs.rmSync(file, { force: true });
}

/** Releases every lock this process holds (on exit or an interrupt). */
export function releaseAllLocks(): void {
  for (const f of [...held]) {
    try {
      releaseLock(f);
    } catch {
      // best effort: a dead holder's lock is broken by the next run
    }
  }
}

process.on('exit', releaseAllLocks);
