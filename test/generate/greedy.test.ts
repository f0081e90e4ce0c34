import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { generateGreedy, generateGreedyReference, pickGreedy } from '../../src/generate/greedy';
import { Checkpoint } from '../../src/io/checkpoint';
import { useBackend } from '../../src/model/backend';
import { CausalLM } from '../../src/model/model';

const TINY = path.resolve(__dirname, '../../weights/tiny/base');

describe('greedy decoding', () => {
  let model: CausalLM;
  beforeAll(async () => {
    await useBackend('wasm');
    const ckpt = Checkpoint.open(TINY);
    model = CausalLM.fromCheckpoint(ckpt);
    ckpt.close();
  });
  afterAll(() => model.dispose());

  const prompts = [[5, 17, 200, 3], [9], [44, 45, 46, 47, 48, 49, 50], [1, 2]];

  it('KV-cache batched decoding equals full-recompute decoding token for token', () => {
    const o = { maxNewTokens: 12 };
    const cached = generateGreedy(model, prompts, o);
    const reference = generateGreedyReference(model, prompts, o);
    expect(cached).toEqual(reference);
    expect(cached.every((s) => s.length === 12)).toBe(true);
  });

  it('KV-cache decoding with a repetition penalty, stop ids and small batches still equals the reference', () => {
    const reference = generateGreedyReference(model, prompts, { maxNewTokens: 10, repetitionPenalty: 1.3 });
    const stop = reference[0][3];
    const o = { maxNewTokens: 10, repetitionPenalty: 1.3, stopIds: [stop], batchSize: 3 };
    const cached = generateGreedy(model, prompts, o);
    expect(cached).toEqual(generateGreedyReference(model, prompts, o));
    expect(cached[0]).toEqual(reference[0].slice(0, 4));
  });

  it('decoding does not leak tensors', () => {
    generateGreedy(model, prompts, { maxNewTokens: 3 });
    const before = tf.memory().numTensors;
    generateGreedy(model, prompts, { maxNewTokens: 5 });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the repetition penalty divides positive and multiplies negative logits of seen tokens', () => {
    const z = new Float32Array([2, -1, 1.9, -3]);
    expect(pickGreedy(z, 0, 4, [], 1)).toBe(0);
    expect(pickGreedy(z, 0, 4, [0], 2)).toBe(2);
    expect(pickGreedy(new Float32Array([-1, -1.5]), 0, 2, [0], 2)).toBe(1);
  });
});
