/** How sil locate decides where gradients come from. */
import { planGradients, inMemoryBytes } from '../../src/locate/source';
import { WASM_HEAP_BYTES } from '../../src/stream/budget';

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
