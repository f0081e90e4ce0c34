import { residentBytesPerElement } from '../../../src/cuda/precision';
import { fitsOnDevice, layerWeightBytes, modelParamCount, modelWeightBytes, planStreaming, type WeightStorage } from '../../../src/model/planner';
import { llama8b } from './llama8b';

const bf16Bf16: WeightStorage = { precision: 'bf16', dtype: 'BF16' };
const bf16F32: WeightStorage = { precision: 'f32', dtype: 'BF16' };
const f32Bf16: WeightStorage = { precision: 'bf16', dtype: 'F32' };
const f32F32: WeightStorage = { precision: 'f32', dtype: 'F32' };
const GB = 1e9;

// Per decoder layer: matrices q 4096·4096 = 16,777,216, k and v 1024·4096 = 4,194,304 each, o 16,777,216,
// gate/up/down 14336·4096 = 58,720,256 each: 218,103,808 matrix parameters, plus 2 norms of 4096 = 8,192.
// Whole model: 32 layers = 6,979,584,000, embedding and lm_head 128256·4096 = 525,336,576 each, final norm 4,096:
// 8,030,261,248 parameters, of which 32·218,103,808 + 2·525,336,576 = 8,029,995,008 are read by products
// and 32·8,192 + 4,096 = 266,240 (the norms) by float32 kernels.
describe('device bytes of weights as the cuda backend holds them', () => {
  it('keeps a BF16 matrix weight as 2 bytes under bf16 products and 6 under tf32/f32; norms read as float32 take 6', () => {
    const product = { product: true, f32: false };
    const norm = { product: false, f32: true };
    expect(residentBytesPerElement('bf16', 'BF16', product)).toBe(2);
    expect(residentBytesPerElement('tf32', 'BF16', product)).toBe(6);
    expect(residentBytesPerElement('f32', 'BF16', product)).toBe(6);
    expect(residentBytesPerElement('bf16', 'BF16', norm)).toBe(6);
    // F16 is widened to float32 at upload (4) and gains a bf16 copy when a bf16 product reads it (+2)
    expect(residentBytesPerElement('bf16', 'F16', product)).toBe(6);
    expect(residentBytesPerElement('f32', 'F16', product)).toBe(4);
    expect(residentBytesPerElement('bf16', 'F32', product)).toBe(6);
    expect(residentBytesPerElement('bf16', 'F32', norm)).toBe(4);
    expect(residentBytesPerElement('f32', 'F32', product)).toBe(4);
  });

  it('counts an 8B-shaped model at 16.06e9 bytes from a BF16 checkpoint under bf16, 48.18e9 under f32, 32.12e9 as float32', () => {
    // no storage (every backend but cuda, and the plan before the cuda backend is up): 4 · 8,030,261,248
    expect(modelWeightBytes(llama8b)).toBe(32121044992);
    expect(modelWeightBytes(llama8b)).toBe(4 * modelParamCount(llama8b));
    // BF16 under bf16: 2 · 8,029,995,008 + 6 · 266,240 = 16,059,990,016 + 1,597,440
    expect(modelWeightBytes(llama8b, bf16Bf16)).toBe(16061587456);
    // BF16 under f32: halves kept and words widened, 6 · 8,030,261,248
    expect(modelWeightBytes(llama8b, bf16F32)).toBe(48181567488);
    // F32 under bf16: 6 · 8,029,995,008 + 4 · 266,240 = 48,179,970,048 + 1,064,960
    expect(modelWeightBytes(llama8b, f32Bf16)).toBe(48181035008);
    expect(modelWeightBytes(llama8b, { precision: 'bf16', dtype: 'F16' })).toBe(48181035008);
    expect(modelWeightBytes(llama8b, f32F32)).toBe(32121044992);
    // one layer: 2 · 218,103,808 + 6 · 8,192 = 436,256,768; 6 · 218,112,000 = 1,308,672,000; 4 · 218,112,000
    expect(layerWeightBytes(llama8b, bf16Bf16)).toBe(436256768);
    expect(layerWeightBytes(llama8b, bf16F32)).toBe(1308672000);
    expect(layerWeightBytes(llama8b)).toBe(872448000);
  });

  // One 128-token sequence, boundaries on the device (as the cuda pass keeps them):
  //   activations (128·(8·4096 + 2·4096 + 4·1024 + 4·14336) + 3·32·128²)·4 = (13,107,200 + 1,572,864)·4 = 58,720,256
  //   gradients 4 · 218,112,000 = 872,448,000; boundaries 33·128·4096·4 = 69,206,016
  //   head chunk (16384 rows): (3·16384·4096 + 4·128·16384 + 3·128·4096)·4 = 845,152,256, below the layer stage
  // stage + boundaries: bf16 436,256,768 + 872,448,000 + 58,720,256 + 69,206,016 = 1,436,631,040
  //                     f32 (BF16 checkpoint) 1,308,672,000 + … = 2,309,046,272; float32 872,448,000 + … = 1,872,822,272
  it('plans the streamed stage with the layer weights at their resident size', () => {
    expect(planStreaming(llama8b, 1, 128, { boundaries: 'device', weightStorage: bf16Bf16 }).devicePeakBytes).toBe(1436631040);
    expect(planStreaming(llama8b, 1, 128, { boundaries: 'device', weightStorage: bf16F32 }).devicePeakBytes).toBe(2309046272);
    expect(planStreaming(llama8b, 1, 128, { boundaries: 'device' }).devicePeakBytes).toBe(1872822272);
  });

  it('keeps an 8B BF16 checkpoint resident on 40 GB under bf16 but not under f32, and its gradient sums only on 80 GB', () => {
    const stage = (s?: WeightStorage) => planStreaming(llama8b, 1, 128, { boundaries: 'device', weightStorage: s }).devicePeakBytes;
    // bf16: 16,061,587,456 + 1,436,631,040 = 17,498,218,496 ≤ 40e9; one float32 sum (32,121,044,992) more: 49,619,263,488
    expect(fitsOnDevice(llama8b, 40 * GB, stage(bf16Bf16), 0, bf16Bf16)).toBe(true);
    expect(fitsOnDevice(llama8b, 40 * GB, stage(bf16Bf16), 1, bf16Bf16)).toBe(false);
    expect(fitsOnDevice(llama8b, 80 * GB, stage(bf16Bf16), 1, bf16Bf16)).toBe(true);
    // f32 products over BF16 storage: 48,181,567,488 + 2,309,046,272 = 50,490,613,760 > 40e9, ≤ 80e9; with a sum 82,611,658,752 > 80e9
    expect(fitsOnDevice(llama8b, 40 * GB, stage(bf16F32), 0, bf16F32)).toBe(false);
    expect(fitsOnDevice(llama8b, 80 * GB, stage(bf16F32), 0, bf16F32)).toBe(true);
    expect(fitsOnDevice(llama8b, 80 * GB, stage(bf16F32), 1, bf16F32)).toBe(false);
    // the float32 count (other backends): 32,121,044,992 + 1,872,822,272 = 33,993,867,264 ≤ 40e9
    expect(fitsOnDevice(llama8b, 40 * GB, stage())).toBe(true);
  });

  it('caches every layer and the head within 40 GB under bf16, 28 layers under f32 products', () => {
    // bf16: cache 40e9 − 1,436,631,040 holds 32 · 436,256,768 = 13,960,216,576 and the head 2 · 525,336,576
    const bf = planStreaming(llama8b, 1, 128, { boundaries: 'device', weightStorage: bf16Bf16, weightCacheBytes: 40 * GB - 1436631040 });
    expect([bf.cachedLayers, bf.cachedHead, bf.cachedBytes]).toEqual([32, true, 13960216576 + 1050673152]);
    // f32 products: ⌊(40e9 − 2,309,046,272) / 1,308,672,000⌋ = ⌊37,690,953,728 / 1,308,672,000⌋ = 28
    const f = planStreaming(llama8b, 1, 128, { boundaries: 'device', weightStorage: bf16F32, weightCacheBytes: 40 * GB - 2309046272 });
    expect([f.cachedLayers, f.cachedHead, f.cachedBytes]).toEqual([28, false, 28 * 1308672000]);
  });
});
