import { SilError } from '../../../src/errors';
import { chooseStreaming, formatPlan, layerParamCount, modelParamCount, planStreaming, sequencesPerStreamedGroup, vocabChunkRows } from '../../../src/model/planner';
import { llama8b } from './llama8b';

const GiB = 2 ** 30;

describe('memory plan', () => {
  it('counts Llama-3.1-8B as 8.03e9 parameters with 218.1M per decoder layer', () => {
    expect(modelParamCount(llama8b)).toBe(8030261248);
    expect(layerParamCount(llama8b)).toBe(218112000);
  });

  it('plans one layer of weights, gradients and activations plus one vocabulary chunk, independent of the number of layers', () => {
    const p = planStreaming(llama8b, 16, 128);
    expect(p.tokens).toBe(2048);
    expect(p.layerWeightBytes).toBe(218112000 * 4);
    expect(p.layerGradBytes).toBe(218112000 * 4);
    // 2048 × (8·4096 + 2·4096 + 4·1024 + 4·14336) + 3·16·32·128² floats
    expect(p.activationBytes).toBe((2048 * (8 * 4096 + 2 * 4096 + 4 * 1024 + 4 * 14336) + 3 * 16 * 32 * 128 * 128) * 4);
    expect(p.devicePeakBytes).toBe(p.layerWeightBytes + p.layerGradBytes + p.activationBytes);
    expect(p.devicePeakBytes).toBeLessThan(4 * GiB); // fits one wasm heap's worth, not 32 GB of f32 weights
    const deeper = planStreaming({ ...llama8b, numLayers: 80 }, 16, 128);
    expect(deeper.devicePeakBytes).toBe(p.devicePeakBytes);
    expect(deeper.hostPeakBytes - p.hostPeakBytes).toBe(48 * 2048 * 4096 * 4); // only the boundary states grow
  });

  it('chunks the 128k-row head so that no buffer exceeds the binding limit', () => {
    const p = planStreaming(llama8b, 16, 128, { maxBindingBytes: 2 * GiB });
    expect(p.vocabChunk * 4096 * 4).toBeLessThanOrEqual(2 * GiB);
    expect(p.vocabChunk * 2048 * 4).toBeLessThanOrEqual(2 * GiB);
    expect(p.vocabChunks).toBe(Math.ceil(128256 / p.vocabChunk));
    const webgpu = planStreaming(llama8b, 16, 128, { maxBindingBytes: GiB }); // what sil grad uses on webgpu
    expect(webgpu.vocabChunks).toBe(2);
    expect(webgpu.vocabChunk * 4096 * 4).toBeLessThanOrEqual(GiB);
    expect(vocabChunkRows(128256, 4096, 2048, 256 * 2 ** 20)).toBe(16384);
    expect(vocabChunkRows(100, 64, 10, 2 ** 30)).toBe(100);
  });

  it('counts boundaries on the device and cached layers in the backend peak', () => {
    const host = planStreaming(llama8b, 16, 128);
    const dev = planStreaming(llama8b, 16, 128, { boundaries: 'device', weightCacheBytes: 10 * GiB });
    expect(dev.cachedLayers).toBe(Math.floor((10 * GiB) / host.layerWeightBytes));
    expect(dev.devicePeakBytes - host.devicePeakBytes).toBe(dev.boundaryBytes + dev.cachedBytes);
    expect(dev.cachedHead).toBe(false);
    expect(formatPlan(dev, llama8b)).toMatch(/32 layers × 218\.1M params, 2048 tokens per pass/);
  });

  it('keeps the head uploaded only once every decoder layer is kept', () => {
    const all = 32 * 218112000 * 4;
    const head = 128256 * 4096 * 4;
    expect(planStreaming(llama8b, 16, 128, { weightCacheBytes: all }).cachedHead).toBe(false);
    const p = planStreaming(llama8b, 16, 128, { weightCacheBytes: all + head });
    expect([p.cachedLayers, p.cachedHead, p.cachedBytes]).toEqual([32, true, all + head]);
    expect(formatPlan(p, llama8b)).toMatch(/32 layer\(s\) and the head kept uploaded/);
  });
});

describe('groups of sequences within a streamed pass', () => {
  it("sizes activations and head buffers by the group, boundaries by the whole batch, and adds one host copy of a layer's gradients to sum the groups", () => {
    const whole = planStreaming(llama8b, 16, 128);
    const p = planStreaming(llama8b, 16, 128, { sequencesPerGroup: 3 });
    expect([p.groups, p.groupTokens, p.tokens]).toEqual([6, 384, 2048]);
    expect(p.activationBytes).toBe((384 * (8 * 4096 + 2 * 4096 + 4 * 1024 + 4 * 14336) + 3 * 3 * 32 * 128 * 128) * 4);
    expect(p.boundaryBytes).toBe(whole.boundaryBytes);
    expect(p.hostPeakBytes - whole.hostPeakBytes).toBe(p.layerGradBytes);
    expect(formatPlan(p, llama8b)).toMatch(/2048 tokens per pass in 6 groups of ≤ 384/);
    // with device boundaries the groups' sums stay on the backend: no host copy, one more layer of gradients there
    const dev = planStreaming(llama8b, 16, 128, { sequencesPerGroup: 3, boundaries: 'device' });
    expect(dev.hostPeakBytes).toBe(planStreaming(llama8b, 16, 128, { boundaries: 'device' }).hostPeakBytes);
    expect(dev.devicePeakBytes).toBe(dev.layerWeightBytes + 2 * dev.layerGradBytes + dev.activationBytes + dev.boundaryBytes);
    // a group as large as the batch, or no usable size, is the whole batch
    for (const g of [16, 40, 0, Number.NaN]) expect(planStreaming(llama8b, 16, 128, { sequencesPerGroup: g }).groups).toBe(1);
  });
});

describe('sequences per group under the wasm heap', () => {
  it('passes an 8B batch one sequence at a time and a small model whole', () => {
    expect(sequencesPerStreamedGroup(llama8b, 16, 128, 4 * GiB)).toBe(1);
    const small = { ...llama8b, hiddenSize: 512, intermediateSize: 1792, numHeads: 4, numKvHeads: 1, headDim: 128, vocabSize: 32000, numLayers: 2 };
    expect(sequencesPerStreamedGroup(small, 16, 128, 4 * GiB)).toBe(16);
    // a cap between the two: the most sequences whose plan fits 60% of it
    const g = sequencesPerStreamedGroup(llama8b, 16, 128, 5 * GiB);
    expect(g).toBeGreaterThan(1);
    expect(g).toBeLessThan(16);
    const p = planStreaming(llama8b, 16, 128, { sequencesPerGroup: g });
    expect(p.devicePeakBytes + p.layerWeightBytes).toBeLessThanOrEqual(0.6 * 5 * GiB);
    const q = planStreaming(llama8b, 16, 128, { sequencesPerGroup: g + 1 });
    expect(q.devicePeakBytes + q.layerWeightBytes).toBeGreaterThan(0.6 * 5 * GiB);
  });
});

describe('choosing the streamed pass', () => {
  it('streams an 8B model on wasm automatically and keeps a small one in memory', () => {
    expect(chooseStreaming('auto', 8.03e9, 'wasm', 2, 24 * GiB).stream).toBe(true);
    expect(chooseStreaming('auto', 50e6, 'wasm', 2, 24 * GiB).stream).toBe(false);
    expect(chooseStreaming('auto', 1e9, 'cpu', 1, 8 * GiB).stream).toBe(true); // 14 GB > 80% of 8 GB
  });

  it('always streams on webgpu and refuses --stream never there', () => {
    expect(chooseStreaming('auto', 50e6, 'webgpu', 1).stream).toBe(true);
    expect(() => chooseStreaming('never', 50e6, 'webgpu', 1)).toThrow(SilError);
  });

  it('honours always and never, and rejects other modes', () => {
    expect(chooseStreaming('always', 50e6, 'wasm', 2).stream).toBe(true);
    expect(chooseStreaming('never', 8e9, 'wasm', 2).stream).toBe(false);
    expect(() => chooseStreaming('sometimes', 1, 'wasm', 2)).toThrow(/--stream must be one of always, never, auto/);
  });
});
