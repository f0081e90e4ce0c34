/**
 * A batch taken a few sequences per pass (what the memory plan does for 128k–152k vocabularies)
 * gives the golden gradients, and a tiny model with the real Qwen2 vocabulary runs at the default
 * batch size.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Checkpoint } from '../../src/io/checkpoint';
import { useBackend } from '../../src/model/backend';
import { CausalLM } from '../../src/model/model';
import { inMemoryPassBytes, sequencesPerPass, WASM_HEAP_BYTES } from '../../src/model/planner';
import { compareTensors, goldenDirs, loadGolden } from './parity-helpers';
import { writeRealVocabPair } from '../helpers/realvocab';
import { TOKENIZERS } from '../helpers/fixtures';
import { tmpDir } from '../score/tiny-pair';

const GRAD_REL_L2 = 1e-3;
const LOSS_REL = 1e-5;

describe('lossAndGradsInPasses on wasm', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  it.each(goldenDirs().shared.map((d) => [path.basename(d), d]))('%s: one sequence per pass matches the golden loss and every gradient', (_n, dir) => {
    const g = loadGolden(dir);
    const ckpt = Checkpoint.open(g.model);
    const model = CausalLM.fromCheckpoint(ckpt);
    try {
      const { loss, grads } = model.lossAndGradsInPasses(g.json, 1);
      const r = compareTensors(
        [...grads].map(([name, got]) => ({ name: `grad/${name}`, got, want: g.tensors.readF32(`grad/${name}`) })),
        GRAD_REL_L2,
        'relL2',
      );
      if (r.failed.length > 0) throw new Error(r.report);
      expect(Math.abs(loss - g.json.loss) / Math.abs(g.json.loss)).toBeLessThanOrEqual(LOSS_REL);
    } finally {
      model.dispose();
      ckpt.close();
      g.tensors.close();
    }
  });
});

const haveTokenizer = fs.existsSync(path.join(TOKENIZERS, 'qwen3/tokenizer.json'));
(haveTokenizer ? describe : describe.skip)(`a 151,936-entry vocabulary${haveTokenizer ? '' : ' (skipped: no shared qwen3 tokenizer)'}`, () => {
  let dir: string;
  beforeAll(async () => {
    dir = tmpDir('realvocab');
    writeRealVocabPair(dir, 'qwen2');
    await useBackend('wasm');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('plans a batch of 16 × 113 tokens in passes that fit the wasm heap and computes it without a crash', () => {
    const ckpt = Checkpoint.open(path.join(dir, 'base'));
    const model = CausalLM.fromCheckpoint(ckpt);
    ckpt.close();
    try {
      const T = 113;
      const per = sequencesPerPass(model.cfg, T);
      expect(per).toBeGreaterThanOrEqual(1);
      expect(per).toBeLessThan(16);
      expect(inMemoryPassBytes(model.cfg, per, T)).toBeLessThanOrEqual(WASM_HEAP_BYTES);
      const ids = Array.from({ length: 16 }, (_, i) => Array.from({ length: T }, (_, t) => 100 + ((i * 7919 + t * 104729) % 151000)));
      const batch = { input_ids: ids, attention_mask: ids.map((r) => r.map(() => 1)), labels: ids.map((r) => r.map((x, t) => (t < 60 ? -100 : x))) };
      const whole = model.lossAndGradsInPasses(batch, per);
      expect(whole.count).toBe(16 * (T - 60));
      expect(Number.isFinite(whole.loss)).toBe(true);
      expect(whole.loss).toBeCloseTo(Math.log(151936), 1); // mean token loss of near-uniform predictions (a small random model)
      expect(whole.grads.get('model.embed_tokens.weight')!.every(Number.isFinite)).toBe(true);
    } finally {
      model.dispose();
    }
  });
});
