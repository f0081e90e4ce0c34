/** How sil locate decides where gradients come from. */
import { inMemoryBytes, inMemoryPassBytes, planGradients, sequencesPerPass, WASM_HEAP_BYTES } from '../../../src/model/planner';
import { parseModelConfig } from '../../../src/model/config';

const GiB = 2 ** 30;

describe('planGradients', () => {
  it('keeps a small model in memory on as many wasm workers as threads', () => {
    expect(planGradients(35_000, 'wasm', 2, 24 * GiB)).toMatchObject({ mode: 'workers', workers: 2 });
    expect(planGradients(35_000, 'wasm', 1, 24 * GiB)).toMatchObject({ mode: 'in-process', workers: 1 });
    expect(planGradients(35_000, 'cpu', 2, 24 * GiB)).toMatchObject({ mode: 'in-process' });
  });

  it('plans layer streaming when one in-memory instance would not fit the 4 GB wasm heap', () => {
    const params = Math.ceil(WASM_HEAP_BYTES / inMemoryBytes(1)) + 1;
    expect(planGradients(params, 'wasm', 2, 512 * GiB).mode).toBe('streamed');
    expect(planGradients(8.03e9, 'wasm', 2, 24 * GiB)).toMatchObject({ mode: 'streamed' });
  });

  it('plans layer streaming on any backend when the model does not fit in RAM, and fewer workers when only some fit', () => {
    expect(planGradients(8.03e9, 'webgpu', 1, 24 * GiB).mode).toBe('streamed');
    const params = 2e8; // ≈ 2.6 GiB per instance
    expect(planGradients(params, 'wasm', 4, 8 * GiB)).toMatchObject({ mode: 'workers', workers: 2 });
  });
});

describe('planGradients on a GPU', () => {
  it('streams on webgpu whatever the model size, since GPU reads there must be asynchronous', () => {
    expect(planGradients(35_000, 'webgpu', 1, 24 * GiB)).toMatchObject({ mode: 'streamed', workers: 1 });
  });
});

describe('planGradients with the logits counted', () => {
  const cfg = (vocab: number) =>
    parseModelConfig({
      architectures: ['Qwen2ForCausalLM'],
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 1,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      vocab_size: vocab,
      tie_word_embeddings: true,
    });

  it('plans fewer sequences per pass for a 152k vocabulary than for a byte vocabulary at the same length', () => {
    expect(sequencesPerPass(cfg(256), 113)).toBeGreaterThanOrEqual(16);
    const per = sequencesPerPass(cfg(151936), 113);
    expect(per).toBeGreaterThanOrEqual(1);
    expect(per).toBeLessThanOrEqual(5); // 5 × 474 MiB measured, plus fragmentation, within the 4 GiB heap
    expect(inMemoryPassBytes(cfg(151936), per, 113)).toBeLessThanOrEqual(WASM_HEAP_BYTES);
    // a [16 × 113 × 151,936] float32 tensor alone is over 1 GiB: the default batch cannot be one pass
    expect(inMemoryPassBytes(cfg(151936), 16, 113)).toBeGreaterThan(16 * 113 * 151936 * 4);
  });

  it('streams when not even one sequence fits the heap, and says why', () => {
    const p = planGradients(5e6, 'wasm', 2, 24 * GiB, { config: cfg(151936), seqLen: 4096 });
    expect(p).toMatchObject({ mode: 'streamed', sequencesPerPass: 0 });
    expect(p.why).toMatch(/4096-token sequence with a 151936-entry vocabulary/);
    const q = planGradients(5e6, 'wasm', 2, 24 * GiB, { config: cfg(151936), seqLen: 113 });
    expect(q).toMatchObject({ mode: 'workers', workers: 2, sequencesPerPass: sequencesPerPass(cfg(151936), 113) });
  });

  it("starts only as many workers as RAM holds at each worker's planned peak", () => {
    const p = planGradients(5e6, 'wasm', 8, 8 * GiB, { config: cfg(151936), seqLen: 113 });
    expect(p.mode).toBe('workers');
    expect(p.workers * p.bytesPerInstance).toBeLessThanOrEqual(0.8 * 8 * GiB);
  });
});
