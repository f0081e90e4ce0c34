/**
 * Data-parallel wasm workers (from dist/; run `npx tsc -p .` first): the summed gradients of the
 * shards equal the PyTorch gradients of the whole batch.
 */
import { gradParallel } from '../../src/model/parallel';
import { compareTensors, goldenDirs, loadGolden } from './parity-helpers';

describe('gradParallel', () => {
  it.each([2, 1])('sums the workers’ gradients into the whole batch’s loss and gradients (%i workers)', async (workers) => {
    const g = loadGolden(goldenDirs().shared[1]);
    try {
      // one worker runs the whole batch in one pass (several sequences at once)
      const r = await gradParallel(g.model, g.json, { workers });
      expect(Math.abs(r.loss - g.json.loss) / g.json.loss).toBeLessThan(1e-5);
      const cmp = compareTensors(
        [...r.grads].map(([name, got]) => ({ name, got, want: g.tensors.readF32(`grad/${name}`) })),
        1e-3,
        'relL2',
      );
      if (cmp.failed.length > 0) throw new Error(cmp.report);
      expect(r.grads.size).toBe([...g.tensors.tensors.keys()].filter((k) => k.startsWith('grad/')).length);
    } finally {
      g.tensors.close();
    }
  });
});
