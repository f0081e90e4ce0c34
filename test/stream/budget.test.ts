import { SilError } from '../../src/errors';
import { deviceBudget, weightCacheBytes } from '../../src/stream/budget';

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
