import * as fs from 'node:fs';
import * as path from 'node:path';
import { SilError } from '../../../src/errors';
import { parseModelConfig } from '../../../src/model/config';
import {
  bindingBytes,
  DEFAULT_BINDING_BYTES,
  defaultSequencesPerGroup,
  deviceBudget,
  fitsOnDevice,
  instanceCap,
  modelParamCount,
  planGradients,
  planStreaming,
  ramBudget,
  sequencesPerPass,
  sequencesPerStreamedGroup,
  WASM_HEAP_BYTES,
  weightCacheBytes,
} from '../../../src/model/planner';

const GiB = 2 ** 30;

/** A small Llama with a 152k vocabulary (the logits dominate its in-memory passes). */
const qwenish = parseModelConfig(
  {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: 151936,
    hidden_size: 256,
    intermediate_size: 688,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    rms_norm_eps: 1e-6,
    tie_word_embeddings: true,
  },
  'qwenish/config.json',
);

describe('device memory budget', () => {
  it('takes SIL_DEVICE_MEMORY when set, on any backend, and refuses a size it cannot read', () => {
    expect(deviceBudget('webgpu', { SIL_DEVICE_MEMORY: '40GB' })).toEqual({ bytes: 40e9, from: 'SIL_DEVICE_MEMORY' });
    expect(deviceBudget('cpu', { SIL_DEVICE_MEMORY: '2GiB' }).bytes).toBe(2 * 2 ** 30);
    expect(() => deviceBudget('webgpu', { SIL_DEVICE_MEMORY: 'lots' })).toThrow(SilError);
  });

  it('keeps nothing beyond the planned stage on CPU backends', () => {
    expect(deviceBudget('wasm', {}).bytes).toBe(0);
    expect(weightCacheBytes(undefined, 'wasm', 1e9)).toBe(0);
  });

  it('reads --weight-cache as a size, 0, or auto = the budget left after the stage and other kept bytes', () => {
    expect(weightCacheBytes('60GB', 'webgpu', 1e9)).toBe(60e9);
    expect(weightCacheBytes('0', 'webgpu', 1e9)).toBe(0);
    const env = process.env.SIL_DEVICE_MEMORY;
    process.env.SIL_DEVICE_MEMORY = '10GB';
    try {
      expect(weightCacheBytes('auto', 'webgpu', 3e9, 2e9)).toBe(5e9);
      expect(weightCacheBytes(undefined, 'webgpu', 12e9)).toBe(0);
    } finally {
      if (env === undefined) delete process.env.SIL_DEVICE_MEMORY;
      else process.env.SIL_DEVICE_MEMORY = env;
    }
  });
});

describe('one set of limits for every plan', () => {
  it('gives one in-memory instance the 4 GB wasm heap on wasm and 80% of RAM elsewhere', () => {
    expect(WASM_HEAP_BYTES).toBe(4 * GiB);
    expect(ramBudget(10 * GiB)).toBe(8 * GiB);
    expect(instanceCap('wasm', 64 * GiB)).toBe(WASM_HEAP_BYTES);
    expect(instanceCap('cpu', 10 * GiB)).toBe(8 * GiB);
  });

  it('plans an in-memory pass within the same cap that the gradient plan states', () => {
    const shape = { config: qwenish, seqLen: 113 };
    const plan = planGradients(modelParamCount(qwenish), 'wasm', 1, 64 * GiB, shape);
    expect(plan.sequencesPerPass).toBe(sequencesPerPass(qwenish, 113, instanceCap('wasm', 64 * GiB)));
    const cpu = planGradients(modelParamCount(qwenish), 'cpu', 1, 2 * GiB, shape);
    expect(cpu.sequencesPerPass).toBe(sequencesPerPass(qwenish, 113, instanceCap('cpu', 2 * GiB)));
  });

  it('binds vocabulary chunks of at most 1 GiB on the GPU backends (webgpu, cuda) and 256 MiB elsewhere, the streamed plan defaulting to the latter', () => {
    expect(bindingBytes('webgpu')).toBe(GiB);
    expect(bindingBytes('cuda')).toBe(GiB);
    expect(bindingBytes('wasm')).toBe(DEFAULT_BINDING_BYTES);
    expect(DEFAULT_BINDING_BYTES).toBe(256 * 2 ** 20);
    expect(planStreaming(qwenish, 4, 113, { maxBindingBytes: bindingBytes('wasm') })).toEqual(planStreaming(qwenish, 4, 113));
    expect(planStreaming(qwenish, 64, 512, { maxBindingBytes: bindingBytes('webgpu') }).vocabChunk).toBeGreaterThan(planStreaming(qwenish, 64, 512).vocabChunk);
  });

  it('keeps the weights (and their gradient sums) on the device only when they fit beside one stage', () => {
    const w = modelParamCount(qwenish) * 4;
    expect(fitsOnDevice(qwenish, w + 100, 100)).toBe(true);
    expect(fitsOnDevice(qwenish, w + 99, 100)).toBe(false);
    expect(fitsOnDevice(qwenish, 3 * w + 100, 100, 2)).toBe(true);
    expect(fitsOnDevice(qwenish, 3 * w + 99, 100, 2)).toBe(false);
  });

  it('groups a streamed batch on wasm as the heap allows and takes the whole batch on the other backends', () => {
    expect(defaultSequencesPerGroup(qwenish, 'wasm', 64, 2048)).toBe(sequencesPerStreamedGroup(qwenish, 64, 2048, WASM_HEAP_BYTES));
    expect(defaultSequencesPerGroup(qwenish, 'wasm', 64, 2048)).toBeLessThan(64);
    expect(defaultSequencesPerGroup(qwenish, 'cuda', 64, 2048)).toBe(64);
  });

  it('writes the heap size and the RAM and device shares in the planner only', () => {
    const src = path.resolve(__dirname, '../../../src');
    const files = (dir: string): string[] =>
      fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
    const limits = path.join(src, 'model/planner/limits.ts');
    const found = files(src)
      .filter((f) => f !== limits)
      .filter((f) => /4 \* 2 \*\* 30|WASM_HEAP_BYTES = |\b0\.[89] \* (ram|os\.totalmem|gpu|b\.device)/.test(fs.readFileSync(f, 'utf8')))
      .map((f) => path.relative(src, f));
    expect(found).toEqual([]);
  });
});
