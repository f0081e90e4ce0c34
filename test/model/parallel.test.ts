/**
 * Data-parallel wasm workers (from dist/; run `npx tsc -p .` first): the summed gradients of the
 * shards equal the PyTorch gradients of the whole batch.
 */
import { gradParallel } from '../../src/model/parallel';
import { compareTensors, goldenDirs, loadGolden } from './parity-helpers';

describe('gradParallel', () => {
  it('sums the workers’ gradients into the whole batch’s loss and gradients', async () => {
    const g = loadGolden(goldenDirs().shared[1]);
    try {
      const r = await gradParallel(g.model, g.json, { workers: 2 });
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
