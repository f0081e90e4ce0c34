/**
 * The histogram passes of a global selection on worker threads give the same threshold and masks
 * as the single-thread stream, and a worker's error reaches the caller as a typed error.
 */
import * as path from 'node:path';
import { SilError } from '../../src/errors';
import { Checkpoint } from '../../src/io/checkpoint';
import { HistogramPool } from '../../src/locate/histpool';
import { type ScoreInputs, scoreSource } from '../../src/locate/scores';
import { scoredTensors } from '../../src/score/pair';
import { selectMasks, selectMasksWith } from '../../src/select/stream';
import { HF_TINY } from '../helpers/fixtures';

const PAIR = path.join(HF_TINY, 'qwen2-tiny-bf16-sharded');

describe('parallel histogram passes', () => {
  let pool: HistogramPool;
  beforeAll(async () => {
    pool = await HistogramPool.start(2);
  });
  afterAll(async () => {
    await pool.close();
  });

  it.each(['weightdiff', 'random'] as const)('select exactly what one thread selects (%s score, k = 0.2 and 0.5)', async (score) => {
    const base = Checkpoint.open(path.join(PAIR, 'base'));
    const attacked = Checkpoint.open(path.join(PAIR, 'attacked'));
    try {
      const tensors = scoredTensors(base, 'all');
      const inp: ScoreInputs = { score, reduce: 'sum-abs', base, attacked, seed: 3, chunk: 1000 };
      for (const k of [0.2, 0.5]) {
        const one = new Map<string, Uint8Array>();
        const many = new Map<string, Uint8Array>();
        const keep = (m: Map<string, Uint8Array>) => (t: { name: string; numel: number }, start: number, _s: Float32Array, mask: Uint8Array) => {
          if (!m.has(t.name)) m.set(t.name, new Uint8Array(t.numel));
          m.get(t.name)!.set(mask, start);
        };
        const a = selectMasks(scoreSource(inp, tensors), k, 'global', keep(one));
        const spec = { score, reduce: 'sum-abs' as const, base: path.join(PAIR, 'base'), attacked: path.join(PAIR, 'attacked'), grads: null, seed: 3, chunk: 1000 };
        const b = await selectMasksWith(scoreSource(inp, tensors), k, 'global', keep(many), pool.provider(spec, tensors));
        expect(b).toEqual(a);
        expect(a.passes).toBe(3);
        for (const [name, m] of one) expect(Buffer.compare(Buffer.from(many.get(name)!), Buffer.from(m))).toBe(0);
      }
    } finally {
      base.close();
      attacked.close();
    }
  });

  it('rejects with the worker’s typed error when an input cannot be opened, in both kinds of job', async () => {
    const base = Checkpoint.open(path.join(PAIR, 'base'));
    try {
      const tensors = scoredTensors(base, 'linear');
      const spec = { score: 'sil' as const, reduce: 'sum-abs' as const, base: path.join(PAIR, 'base'), attacked: path.join(PAIR, 'attacked'), grads: '/nonexistent/grads.safetensors', seed: 0 };
      await expect(pool.provider(spec, tensors).histogram(1, -1)).rejects.toBeInstanceOf(SilError);
      const drain = async () => {
        for await (const c of pool.scores(spec, tensors)) expect(c.scores.length).toBeGreaterThan(0);
      };
      await expect(drain()).rejects.toBeInstanceOf(SilError);
      // the pool still serves later jobs
      const ok = await pool.provider({ ...spec, score: 'random', grads: null }, tensors).histogram(1, -1);
      expect(ok.count).toBe(tensors.reduce((a, t) => a + t.numel, 0));
    } finally {
      base.close();
    }
  });
});
