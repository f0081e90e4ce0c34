import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runJobs } from '../../src/delta/pool';
import { type DeltaJob, type DeltaResult } from '../../src/delta/job';
import { SilError } from '../../src/errors';

describe('delta worker pool', () => {
  let tmp: string;
  let file: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-pool-'));
    file = path.join(tmp, 'data.bin');
    fs.writeFileSync(file, Buffer.from(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]).buffer));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const job = (id: number, over: Partial<DeltaJob> = {}): DeltaJob => ({
    id,
    tensor: 't',
    dtype: 'F32',
    start: 0,
    count: 4,
    baseFile: file,
    baseOffset: 0,
    attackedFile: file,
    attackedOffset: 16,
    wantAbs: true,
    ...over,
  });

  it.each([0, 2])('runs every job and hands back sums and |Δ| (threads = %i)', async (threads) => {
    const got: DeltaResult[] = [];
    await runJobs([job(0), job(1, { count: 2, baseOffset: 8 })].values(), threads, (r) => got.push(r));
    got.sort((a, b) => a.id - b.id);
    expect(got.map((r) => r.acc.l1)).toEqual([16, 4]); // (5..8 − 1..4) and (5,6 − 3,4)
    expect(Array.from(got[1].abs!)).toEqual([2, 2]);
  });

  it.each([0, 2])('rejects with the typed error raised in a job (threads = %i)', async (threads) => {
    const missing = path.join(tmp, 'nope.bin');
    await expect(runJobs([job(0), job(1, { baseFile: missing })].values(), threads, () => {})).rejects.toMatchObject({ code: 'FILE_NOT_FOUND', file: missing });
    const past = runJobs([job(0, { attackedOffset: 24 })].values(), threads, () => {});
    await expect(past).rejects.toBeInstanceOf(SilError);
    await expect(past).rejects.toMatchObject({ code: 'TRUNCATED', file, tensor: 't' });
  });
});
