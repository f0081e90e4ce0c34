/**
 * Temporary files and folders: every partial output is a sibling of its target named
 * `.tmp-<pid>-<unique>-<name>`, so that
 *
 * - this process knows its own temps and removes them when it is interrupted (SIGINT, SIGTERM);
 * - a later run removes the temps of processes that no longer exist (a kill -9, a power cut):
 *   the pid is in the name, and `process.kill(pid, 0)` says whether it is alive.
 *
 * Temps of a live process (another sil writing there now) are never touched.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const own = new Set<string>();
let counter = 0;

/** `.tmp-<pid>-<unique>-<name>`; older versions wrote `.tmp-<name>-<pid>-<time>[-<rand>]`. */
const NAME = /^\.tmp-(\d+)-[0-9a-z]+-.+$/;
const OLD_NAME = /^\.tmp-.+-(\d+)-[0-9a-z]{6,}(?:-[0-9a-z]{1,8})?$/;

/** A fresh temp path beside `target`, registered as this process's until `releaseTemp`. */
export function tempPath(target: string): string {
  const unique = `${Date.now().toString(36)}${(counter++).toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const p = path.join(path.dirname(path.resolve(target)), `.tmp-${process.pid}-${unique}-${path.basename(target)}`);
  own.add(p);
  return p;
}

/** The temp was renamed into place or removed: it is no longer this process's to clean up. */
export function releaseTemp(p: string): void {
  own.delete(p);
}

/** Removes every temp this process still holds (on an interrupt); returns how many there were. */
export function removeOwnTemps(): number {
  let n = 0;
  for (const p of [...own].reverse()) {
    try {
      if (fs.existsSync(p)) {
        fs.rmSync(p, { recursive: true, force: true });
        n++;
      }
    } catch {
      // best effort: a later run removes it as a stale temp
    }
    own.delete(p);
  }
  return n;
}

/** The pid recorded in a temp's name, or null when the name is not one of sil's temps. */
export function tempOwner(name: string): number | null {
  const m = NAME.exec(name) ?? OLD_NAME.exec(name);
  return m ? Number(m[1]) : null;
}

/** Whether a process with this pid exists (EPERM: it exists, owned by someone else). */
export function isAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes, in each of `dirs` (those that exist), sil temps whose process is gone. Returns the
 * removed paths.
 */
export function sweepStaleTemps(dirs: Iterable<string>): string[] {
  const removed: string[] = [];
  for (const dir of new Set([...dirs].map((d) => path.resolve(d)))) {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const pid = tempOwner(name);
      if (pid === null || isAlive(pid)) continue;
      const p = path.join(dir, name);
      try {
        fs.rmSync(p, { recursive: true, force: true });
        removed.push(p);
      } catch {
        // not ours to remove after all (permissions): leave it
      }
    }
  }
  return removed;
}

const kept: Array<string | (() => string | null)> = [];

/**
 * Something a run keeps when it is interrupted (said on the way out), e.g. its caches; a function
 * is asked at that moment (null: nothing to say).
 */
export function keepOnInterrupt(note: string | (() => string | null)): void {
  if (!kept.includes(note)) kept.push(note);
}

export function keptOnInterrupt(): string[] {
  return kept.map((k) => (typeof k === 'string' ? k : k())).filter((k): k is string => !!k);
}

/** Forgets the notes (a command finished; the next one in this process starts afresh). */
export function clearKept(): void {
  kept.length = 0;
}
