/**
 * The worker module: the ready handshake, both job runners, and one error format across the
 * boundary (code, message, file, tensor and the worker's stack), shown on the delta worker.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DeltaJob, DeltaResult } from '../../src/delta/job';
import { SilError } from '../../src/errors';
import { WorkerPool } from '../../src/workers/pool';
import { fromWire, toWire } from '../../src/workers/wire';

let tmp: string;
let file: string;
let pool: WorkerPool<DeltaJob, DeltaResult>;
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-workers-'));
  file = path.join(tmp, 'data.bin');
  fs.writeFileSync(file, Buffer.from(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]).buffer));
  pool = await WorkerPool.start<DeltaJob, DeltaResult>('delta/worker', { count: 2, workerData: { kernel: 'js' } });
});
afterAll(async () => {
  await pool.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const job = (id: number, over: Partial<DeltaJob> = {}): DeltaJob => ({
  id,
  tensor: 't',
  dtype: 'F32',
  start: 0,
  count: 1,
  baseFile: file,
  baseOffset: 4 * (id % 4),
  attackedFile: file,
  attackedOffset: 16 + 4 * (id % 4),
  wantAbs: false,
  ...over,
});

describe('WorkerPool', () => {
  it('starts every worker after its ready message', () => {
    expect(pool.size).toBe(2);
    expect(pool.info).toHaveLength(2);
  });

  it('runs a lazy iterator of jobs with results in completion order, every job once', async () => {
    const seen: number[] = [];
    await pool.runUnordered([0, 1, 2, 3, 4, 5, 6].map((i) => job(i)).values(), (r) => seen.push(r.id));
    expect(seen.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('yields results in job order whatever order they finish in, a window ahead of the consumer', async () => {
    const ids: number[] = [];
    for await (const { job: j, result } of pool.runOrdered(
      [0, 1, 2, 3, 4, 5, 6].map((i) => job(i)),
      3,
    )) {
      expect(result.id).toBe(j.id);
      ids.push(result.id);
    }
    expect(ids).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('brings a worker’s SilError across with its code, message, file and the worker’s stack', async () => {
    const missing = path.join(tmp, 'nope.bin');
    const e = await pool.call(0, job(0, { baseFile: missing })).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(SilError);
    expect(e).toMatchObject({ code: 'FILE_NOT_FOUND', file: missing });
    expect((e as Error).message).toContain(missing);
    expect((e as Error).stack).toMatch(/delta\/job\.js|io\//);
  });

  it('throws a failed job at the consumer of the ordered runner and replaces the workers, which then work', async () => {
    const jobs = [job(0), job(1, { baseFile: path.join(tmp, 'gone.bin') }), job(2)];
    const got: number[] = [];
    await expect(
      (async () => {
        for await (const { result } of pool.runOrdered(jobs, 3)) got.push(result.id);
      })(),
    ).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
    expect(got).toEqual([0]);
    const again: number[] = [];
    await pool.runUnordered([job(3)].values(), (r) => again.push(r.id));
    expect(again).toEqual([3]);
  });

  it('keeps a plain Error’s message and stack, and does not name a message twice when it already carries the file', () => {
    const plain = fromWire(toWire(new RangeError('out of range')));
    expect(plain).not.toBeInstanceOf(SilError);
    expect(plain.message).toBe('out of range');
    expect(plain.stack).toContain('RangeError: out of range');
    const typed = fromWire(toWire(new SilError('TRUNCATED', 'short read', { file: '/x', tensor: 'w' })));
    expect(typed.message).toBe('short read (file /x, tensor w)');
    expect(typed).toMatchObject({ code: 'TRUNCATED', file: '/x', tensor: 'w' });
  });
});
