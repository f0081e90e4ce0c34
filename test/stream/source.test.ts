import { Checkpoint } from '../../src/io/checkpoint';
import { useBackend } from '../../src/model/backend';
import { parseModelConfig } from '../../src/model/config';
import { CausalLM } from '../../src/model/model';
import { openStreamedSource } from '../../src/stream/source';
import { compareTensors, goldenDirs, loadGolden } from '../model/parity-helpers';

it('the streamed gradient source gives the gradient of the summed loss as whole tensors, equal to the in-memory mean gradient times the labelled positions', async () => {
  await useBackend('wasm');
  const g = loadGolden(goldenDirs().shared[1] ?? goldenDirs().shared[0]);
  g.tensors.close();
  const ckpt = Checkpoint.open(g.model);
  const model = CausalLM.fromCheckpoint(ckpt);
  try {
    const want = model.lossAndGrads(g.json);
    const config = parseModelConfig(ckpt.config, g.model);
    const src = await openStreamedSource({ modelDir: g.model, checkpoint: ckpt, config, backend: 'wasm', threads: 1, perExample: false });
    const got = new Map<string, Float32Array>();
    const r = await src.gradients(g.json, (n, grad) => {
      expect(got.has(n)).toBe(false);
      got.set(n, grad);
    });
    await src.close();
    expect(src.kind).toBe('streamed');
    expect(r.tokens).toBe(want.count);
    expect(Math.abs(r.loss - want.loss * want.count) / (want.loss * want.count)).toBeLessThan(1e-6);
    const pairs = [...want.grads].map(([name, w]) => ({ name, got: got.get(name)!, want: w.map((x) => x * want.count) }));
    const cmp = compareTensors(pairs, 1e-5, 'relL2');
    if (cmp.failed.length > 0) throw new Error(cmp.report);
    expect(got.size).toBe(want.grads.size);
  } finally {
    model.dispose();
    ckpt.close();
  }
});
