/**
 * Interruptions, temps and locks: SIGINT/SIGTERM stop sil locate with exit 130/143, remove this
 * process's temps and say what was kept; a second writer into one run folder gets LOCKED with the
 * holder's pid; a later run removes the temps and breaks the locks of dead processes (never those
 * of live ones) and resumes to the same masks as an uninterrupted run.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { acquireLock, lockPath } from '../../src/io/lock';
import { sweepStaleTemps, tempOwner, tempPath, releaseTemp } from '../../src/io/temp';

const MAIN = path.resolve(__dirname, '../../dist/cli/main.js');
// The wasm kernels (--blas off) keep each calibration set's gradient pass long enough (seconds) for
// the test to see its cache temp and signal the run inside it; through a system BLAS a set of the
// demo takes a fraction of a second and the whole run can end between two polls.
const LOCATE = ['locate', '--threads', '2', '--langs', 'en,it', '--max-examples', '8', '--blas', 'off', '--json'];

let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-interrupt-'))));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A pid that has just exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  return r.pid!;
}

function start(out: string): { child: ChildProcess; done: Promise<{ code: number | null; stderr: string }> } {
  const child = spawn(process.execPath, [MAIN, ...LOCATE, '--out', out], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CI: '1' } });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
  return { child, done };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until the gradient cache of `set` is being written (its temp exists in out/cache). */
async function untilCacheTemp(out: string, pid: number, set: string): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const dir = path.join(out, 'cache');
    if (fs.existsSync(dir) && fs.readdirSync(dir).some((f) => tempOwner(f) === pid && f.endsWith(`-${set}.grads.safetensors`))) return;
    if (Date.now() - t0 > 120_000) throw new Error('no cache temp appeared within 120 s');
    if (!isAlive(pid)) throw new Error(`sil locate (pid ${pid}) ended before the cache of ${set} was written`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** sil temps and locks under `dir` (recursively), relative. */
function leftovers(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.name.startsWith('.tmp-') || e.name.endsWith('.sil-lock')) out.push(path.relative(dir, p));
      else if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

describe('temps', () => {
  it('names carry the pid; a sweep removes those of dead processes, in the new and the older naming, and keeps live ones and other files', () => {
    const dir = path.join(tmp, 'sweep');
    fs.mkdirSync(dir);
    const dead = deadPid();
    const mine = tempPath(path.join(dir, 'x.safetensors'));
    expect(tempOwner(path.basename(mine))).toBe(process.pid);
    fs.writeFileSync(mine, 'live');
    fs.writeFileSync(path.join(dir, `.tmp-${dead}-k3j2a1-en.grads.safetensors`), 'stale');
    fs.mkdirSync(path.join(dir, `.tmp-${dead}-k3j2a2-run`));
    fs.writeFileSync(path.join(dir, `.tmp-en.grads.safetensors-${dead}-mi0abcde-x1y2z3`), 'stale, older name');
    fs.writeFileSync(path.join(dir, '.tmp-notes'), 'not a sil temp');
    fs.writeFileSync(path.join(dir, 'masks.safetensors'), 'user');
    const removed = sweepStaleTemps([dir])
      .map((p) => path.basename(p))
      .sort();
    expect(removed).toEqual([`.tmp-${dead}-k3j2a1-en.grads.safetensors`, `.tmp-${dead}-k3j2a2-run`, `.tmp-en.grads.safetensors-${dead}-mi0abcde-x1y2z3`].sort());
    expect(fs.readdirSync(dir).sort()).toEqual(['.tmp-notes', path.basename(mine), 'masks.safetensors'].sort());
    releaseTemp(mine);
  });
});

describe('locks', () => {
  it('a second taker gets LOCKED naming the live holder; a dead holder’s lock is broken', async () => {
    const out = path.join(tmp, 'locked-run');
    const sleeper = spawn('sleep', ['60']);
    try {
      fs.writeFileSync(lockPath(out), JSON.stringify({ pid: sleeper.pid, command: 'locate', started: '2026-01-01T00:00:00Z' }));
      expect(() => acquireLock(out, 'eval')).toThrow(expect.objectContaining({ code: 'LOCKED', message: expect.stringContaining(`pid ${sleeper.pid}`) }));
    } finally {
      sleeper.kill('SIGKILL');
      await new Promise((r) => sleeper.on('exit', r));
    }
    const release = acquireLock(out, 'eval');
    expect(JSON.parse(fs.readFileSync(lockPath(out), 'utf8')).pid).toBe(process.pid);
    expect(() => acquireLock(out, 'eval')).toThrow(expect.objectContaining({ code: 'LOCKED' }));
    release();
    expect(fs.existsSync(lockPath(out))).toBe(false);
  });

  it('an empty lock (its writer killed between creating and writing it) is broken once it is older than two seconds', () => {
    const out = path.join(tmp, 'empty-lock-run');
    fs.writeFileSync(lockPath(out), '');
    const old = new Date(Date.now() - 10_000);
    fs.utimesSync(lockPath(out), old, old);
    const release = acquireLock(out, 'locate');
    expect(JSON.parse(fs.readFileSync(lockPath(out), 'utf8')).pid).toBe(process.pid);
    release();
  });
});

describe('sil locate interrupted', () => {
  it('SIGINT: a concurrent writer is LOCKED; the run exits 130, leaves no temp or lock, and keeps its finished caches; SIGTERM exits 143; a resume sweeps dead temps and locks and gives the masks of an uninterrupted run', async () => {
    const root = path.join(tmp, 'interrupted');
    fs.mkdirSync(root);
    const out = path.join(root, 'run');
    const a = start(out);
    await untilCacheTemp(out, a.child.pid!, 'en');
    // another sil into the same run folder
    const b = spawnSync(process.execPath, [MAIN, 'locate', '--score', 'weightdiff', '--langs', 'en', '--no-benign', '--out', out], { encoding: 'utf8' });
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(new RegExp(`^sil: error \\[LOCKED\\]: .* is being written by sil locate \\(pid ${a.child.pid}, since .*\\)`));
    await untilCacheTemp(out, a.child.pid!, 'it');
    a.child.kill('SIGINT');
    const ra = await a.done;
    expect(ra.code).toBe(130);
    const finished = () => fs.readdirSync(path.join(out, 'cache')).filter((f) => !f.startsWith('.')).length;
    expect(ra.stderr).toContain(
      `sil: interrupted by SIGINT: stopped; removed 1 temporary file(s) of this run; kept ${finished()} finished gradient cache file(s) in ${path.join(out, 'cache')} (the same command resumes from them)\n`,
    );
    expect(finished()).toBeGreaterThanOrEqual(1);
    expect(leftovers(root)).toEqual([]);

    // the leftovers of a kill -9 and a live process's temp
    const dead = deadPid();
    fs.mkdirSync(path.join(out, 'cache'), { recursive: true });
    fs.writeFileSync(path.join(out, 'cache', `.tmp-${dead}-zz1-it.grads.safetensors`), 'stale');
    fs.mkdirSync(path.join(root, `.tmp-${dead}-zz2-run`));
    fs.writeFileSync(lockPath(out), JSON.stringify({ pid: dead, command: 'locate', started: '2026-01-01T00:00:00Z' }));
    const live = path.join(out, 'cache', `.tmp-${process.pid}-zz3-other`);
    fs.writeFileSync(live, 'a live process is writing this');

    const c = start(out);
    await untilCacheTemp(out, c.child.pid!, 'benign');
    c.child.kill('SIGTERM');
    const rc = await c.done;
    expect(rc.code).toBe(143);
    expect(rc.stderr).toContain(`sil: interrupted by SIGTERM: stopped; removed 1 temporary file(s) of this run; kept ${finished()} finished gradient cache file(s)`);
    expect(leftovers(root)).toEqual([path.relative(root, live)]);
    fs.rmSync(live);

    const d = start(out);
    const rd = await d.done;
    expect(rd.code).toBe(0);
    const ref = path.join(tmp, 'reference');
    const e = start(ref);
    expect((await e.done).code).toBe(0);
    const masks = fs.readdirSync(path.join(ref, 'masks')).sort();
    expect(fs.readdirSync(path.join(out, 'masks')).sort()).toEqual(masks);
    for (const m of masks) expect({ m, same: fs.readFileSync(path.join(out, 'masks', m)).equals(fs.readFileSync(path.join(ref, 'masks', m))) }).toEqual({ m, same: true });
    expect(leftovers(root)).toEqual([]);
  });
});
