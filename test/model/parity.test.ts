/**
 * Parity with PyTorch/transformers (the oracle): logits, loss and every parameter's gradient on the
 * shared hf-tiny fixtures and on every golden under test/goldens/, on each backend available here.
 * Failures print llm.c-style per-tensor lines (`TENSOR OK, maxdiff = …`). To regenerate the local
 * goldens: `python3 scripts/goldens/make_goldens.py test/goldens` on a machine with torch+transformers.
 */
import * as tf from '@tensorflow/tfjs';
import { Checkpoint } from '../../src/io/checkpoint';
import { setCudaOptions } from '../../src/cuda';
import { useBackend } from '../../src/model/backend';
import { CausalLM } from '../../src/model/model';
import { backendSkipReason, compareTensors, goldenDirs, loadGolden } from './parity-helpers';

const LOGITS_ABS = 1e-4;
const LOSS_REL = 1e-5;
const GRAD_REL_L2 = 1e-3;

const { shared, local } = goldenDirs();
const dirs = [...shared, ...local];
if (local.length === 0) {
  // eslint-disable-next-line no-console
  console.log('test/goldens/ holds no goldens yet: run scripts/goldens/make_goldens.py test/goldens to add F16/F32, Mistral, MHA and long-sequence cases');
}

describe.each(['cpu', 'wasm', 'webgpu', 'tensorflow', 'cuda'] as const)('on the %s backend', (backend) => {
  const skip = backendSkipReason(backend);
  if (skip) {
    it.skip(`matches the goldens (skipped: ${backend} unavailable here: ${skip})`, () => undefined);
    return;
  }
  beforeAll(async () => {
    // the goldens are float32: the cuda backend's matrix products in f32 too
    if (backend === 'cuda') setCudaOptions({ precision: 'f32' });
    await useBackend(backend);
  });

  describe.each(dirs.map((d) => [d.split('/').pop()!, d]))('%s', (_name, dir) => {
    it('matches the golden logits, loss and every parameter gradient', () => {
      const g = loadGolden(dir);
      const ckpt = Checkpoint.open(g.model);
      const model = CausalLM.fromCheckpoint(ckpt);
      try {
        const batch = g.json;
        const logits = model.logits(batch);
        const lg = compareTensors([{ name: 'logits', got: logits, want: g.tensors.readF32('logits') }], LOGITS_ABS, 'abs');
        const { loss, grads } = model.lossAndGrads(batch);
        const pairs = [...grads].map(([name, got]) => ({ name: `grad/${name}`, got, want: g.tensors.readF32(`grad/${name}`) }));
        const gr = compareTensors(pairs, GRAD_REL_L2, 'relL2');
        const lossRel = Math.abs(loss - batch.loss) / Math.abs(batch.loss);
        const stored = [...g.tensors.tensors.keys()]
          .filter((k) => k.startsWith('grad/'))
          .map((k) => k.slice(5))
          .sort();
        const report = `${g.name} on ${backend}:\nloss ${loss} vs ${batch.loss} (rel ${lossRel.toExponential(3)})\n${lg.report}\n${gr.report}`;
        if (lg.failed.length + gr.failed.length > 0 || !(lossRel <= LOSS_REL)) throw new Error(report);
        expect([...grads.keys()].sort()).toEqual(stored);
      } finally {
        model.dispose();
        ckpt.close();
        g.tensors.close();
      }
    });
  });
});

describe('memory', () => {
  it('keeps the number of live tensors constant across gradient steps', async () => {
    await useBackend('wasm');
    const g = loadGolden(shared[0]);
    const ckpt = Checkpoint.open(g.model);
    const model = CausalLM.fromCheckpoint(ckpt);
    try {
      model.lossAndGrads(g.json);
      const before = tf.memory().numTensors;
      model.lossAndGrads(g.json);
      model.logits(g.json);
      model.lossAndGrads(g.json);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      model.dispose();
      ckpt.close();
      g.tensors.close();
    }
  });
});
