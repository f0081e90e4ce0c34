/**
 * Wanda's layer-input norms against PyTorch: ‖X_j‖₂ over the response-predicting positions of the
 * fixtures' golden batch, for the input of every linear weight, from `linearInputSquares` on each
 * backend here, against a torch forward pass whose logits match the fixtures' transformers logits
 * (test/goldens/torch-ops.json).
 */
import * as path from 'node:path';
import { useBackend } from '../../src/model/backend';
import type { Batch } from '../../src/model/batch';
import { parseModelConfig } from '../../src/model/config';
import { linearInputSquares } from '../../src/model/inputs';
import { Checkpoint } from '../../src/io/checkpoint';
import { FIXTURE_NAMES, HF_TINY } from '../helpers/fixtures';
import { torchOps } from '../helpers/torch-goldens';
import { compareTensors } from './parity-helpers';

const golden = torchOps();

describe.each(['cpu', 'wasm'] as const)('layer-input norms on %s against torch', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it.each(FIXTURE_NAMES)('%s: every linear weight’s input norms agree with torch to 1e-5 relative L2', async (fx) => {
    const dir = path.join(HF_TINY, fx);
    const want = golden.fixtures[fx].wanda;
    const batch = (await import(path.join(dir, 'golden.json'))) as Batch;
    const ck = Checkpoint.open(path.join(dir, 'base'));
    try {
      const cfg = parseModelConfig(ck.config, path.join(dir, 'base/config.json'));
      const got = await linearInputSquares(cfg, ck, [{ input_ids: batch.input_ids, attention_mask: batch.attention_mask, labels: batch.labels }]);
      expect({ tokens: got.tokens, examples: got.examples }).toEqual({ tokens: want.tokens, examples: want.examples });
      expect([...got.sums.keys()].sort()).toEqual(Object.keys(want.norms).sort());
      const { report, failed } = compareTensors(
        Object.entries(want.norms).map(([name, norms]) => ({ name, got: Float32Array.from(got.sums.get(name)!, Math.sqrt), want: Float32Array.from(norms) })),
        1e-5,
        'relL2',
      );
      if (failed.length) throw new Error(`${fx} on ${backend}:\n${report}`);
    } finally {
      ck.close();
    }
  });
});
