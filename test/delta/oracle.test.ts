import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FIXTURE_NAMES, HF_TINY } from '../helpers/fixtures';
import { Checkpoint } from '../../src/io/checkpoint';
import { computeDelta, type TensorDelta } from '../../src/delta/compute';
import { streamThreshold } from '../../src/select/topk';

interface Golden {
  tensors: Record<string, { shape: number[]; delta: { l2: number; max_abs: number; mean_abs: number; nonzero: number; numel: number }; weight_l2: number }>;
  delta_topk: Record<string, { k: number; threshold: number; count_gt: number; count_eq: number }>;
}

const rel = (a: number, b: number) => (a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(b), 1e-300));

function expectMatchesGolden(tensors: TensorDelta[], golden: Golden): void {
  expect(tensors.map((t) => t.tensor).sort()).toEqual(Object.keys(golden.tensors).sort());
  const worst: string[] = [];
  for (const t of tensors) {
    const g = golden.tensors[t.tensor];
    const diffs = { l2: rel(t.l2, g.delta.l2), max_abs: rel(t.max_abs, g.delta.max_abs), mean_abs: rel(t.mean_abs, g.delta.mean_abs), weight_l2: rel(t.weight_l2, g.weight_l2) };
    const bad = Object.entries(diffs).filter(([, d]) => !(d <= 1e-6));
    if (bad.length || t.changed !== g.delta.nonzero || t.numel !== g.delta.numel || t.shape.join() !== g.shape.join()) {
      worst.push(`${t.tensor}: ${JSON.stringify(diffs)} changed ${t.changed}/${g.delta.nonzero} numel ${t.numel}/${g.delta.numel}`);
    }
  }
  expect(worst).toEqual([]);
}

describe.each(FIXTURE_NAMES)('delta of the %s fixture', (name) => {
  const dir = path.join(HF_TINY, name);
  const golden: Golden = JSON.parse(fs.readFileSync(path.join(dir, 'golden.json'), 'utf8'));
  let base: Checkpoint;
  let attacked: Checkpoint;
  beforeAll(() => {
    base = Checkpoint.open(path.join(dir, 'base'));
    attacked = Checkpoint.open(path.join(dir, 'attacked'));
  });
  afterAll(() => {
    base.close();
    attacked.close();
  });

  it("reproduces every tensor's golden L2, max|Δ|, mean|Δ|, nonzero count and ‖W‖₂ on the main thread with the JS kernel", async () => {
    const r = await computeDelta(base, attacked, { threads: 0, kernel: 'js' });
    expectMatchesGolden(r.tensors, golden);
  });

  it('gives the same numbers on two worker threads with the SIMD kernel and tensors split into small element ranges', async () => {
    const r = await computeDelta(base, attacked, { threads: 2, chunkElements: 1000 });
    expectMatchesGolden(r.tensors, golden);
  });

  // |Δ| of two BF16 values is exact in float32, so the float32 selector sees the golden's values.
  const thresholdOf = (chunks: () => Iterable<Float32Array>, k: number) => {
    const t = streamThreshold(chunks, k).threshold;
    return { k: t.k, threshold: t.value, count_gt: t.countGt, count_eq: t.countEq, n: t.n };
  };

  it('reproduces the golden top-k thresholds and tie counts over |Δ| of all tensors together with the global selector', () => {
    const chunks = function* () {
      for (const n of base.names()) {
        const a = base.readF32(n);
        const b = attacked.readF32(n);
        yield Float32Array.from(a, (x, i) => Math.abs(b[i] - x));
      }
    };
    for (const [frac, g] of Object.entries(golden.delta_topk)) {
      const r = thresholdOf(chunks, g.k);
      expect({ frac, ...r, n: undefined }).toEqual({ frac, ...g, n: undefined });
      expect(g.k).toBe(Math.round(Number(frac) * r.n));
    }
  });

  it('writes |Δ| under the checkpoint tensor names, from which the same top-k thresholds follow', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-absdelta-'));
    try {
      await computeDelta(base, attacked, { threads: 2, chunkElements: 999, absDeltaDir: out, maxShardSize: '100KB' });
      const abs = Checkpoint.open(out);
      expect(abs.names().sort()).toEqual(base.names().sort());
      expect(abs.files.length).toBeGreaterThan(1);
      const n0 = base.names()[0];
      expect(abs.info(n0)).toMatchObject({ dtype: 'F32', shape: base.info(n0).shape });
      for (const g of Object.values(golden.delta_topk)) {
        const r = thresholdOf(() => abs.names().map((n) => abs.readF32(n)), g.k);
        expect(r).toMatchObject(g);
      }
      abs.close();
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
