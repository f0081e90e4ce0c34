/**
 * Finding the system BLAS: where it is looked for, the OpenBLAS kernel family from the CPU's flags,
 * and what a run records when there is none (the wasm kernels, with the reason) or when it is
 * required (`--blas on`) and missing.
 */
import { configureMatmul, parseBlasChoice } from '../../src/blas';
import { blasCandidates, blasUnavailable, loadBlas, openblasCoretype, resetBlasDiscovery } from '../../src/blas/library';
import { blasMatmul } from '../../src/blas/kernels';

const flags = (list: string) => `processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu vme ${list}\n`;

describe('openblasCoretype', () => {
  it('picks SkylakeX kernels on a CPU with the AVX-512 foundation, CD, BW, DQ and VL', () => {
    expect(openblasCoretype(flags('sse4_2 avx avx2 fma avx512f avx512cd avx512bw avx512dq avx512vl avx512_bf16'))).toBe('SkylakeX');
  });
  it('picks Haswell kernels with AVX2 and FMA but not all of AVX-512', () => {
    expect(openblasCoretype(flags('sse4_2 avx avx2 fma avx512f'))).toBe('Haswell');
  });
  it('picks Sandybridge kernels with AVX alone, and nothing without AVX or without a flags line', () => {
    expect(openblasCoretype(flags('sse4_2 avx'))).toBe('Sandybridge');
    expect(openblasCoretype(flags('sse3 ssse3'))).toBeNull();
    expect(openblasCoretype('processor : 0\n')).toBeNull();
    expect(openblasCoretype(null)).toBeNull();
  });
});

describe('blasCandidates', () => {
  it('tries only SIL_BLAS_LIB when it is set', () => {
    expect(blasCandidates({ SIL_BLAS_LIB: '/opt/x/libblis.so' }, 'linux')).toEqual([{ kind: 'env', file: '/opt/x/libblis.so' }]);
  });
  it('tries MKL, then OpenBLAS on Linux, and Accelerate first on macOS', () => {
    expect(blasCandidates({}, 'linux').map((c) => c.kind)).toEqual(['mkl', 'mkl', 'openblas', 'openblas']);
    expect(blasCandidates({}, 'linux').map((c) => c.file)).toContain('libopenblas.so.0');
    expect(blasCandidates({}, 'darwin')[0]).toEqual({ kind: 'accelerate', file: '/System/Library/Frameworks/Accelerate.framework/Accelerate' });
  });
});

describe('parseBlasChoice', () => {
  it('accepts auto, on and off and refuses anything else with a typed error', () => {
    expect(parseBlasChoice('off')).toBe('off');
    expect(parseBlasChoice('on')).toBe('on');
    expect(() => parseBlasChoice('fast')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/--blas must be one of auto, on, off/) }));
  });
});

describe('without a BLAS (SIL_BLAS_LIB naming a missing library)', () => {
  const saved = process.env.SIL_BLAS_LIB;
  beforeAll(() => {
    process.env.SIL_BLAS_LIB = '/nonexistent/libopenblas.so.0';
    resetBlasDiscovery();
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.SIL_BLAS_LIB;
    else process.env.SIL_BLAS_LIB = saved;
    resetBlasDiscovery();
  });

  it('finds no library and says which path it tried', () => {
    expect(loadBlas()).toBeNull();
    expect(blasUnavailable()).toMatch(/no BLAS found \(\/nonexistent\/libopenblas\.so\.0: no such file\)/);
  });

  it('falls back to the wasm kernels with the reason in the note, or refuses when the BLAS is required', () => {
    const mm = configureMatmul('wasm', 'auto');
    expect(mm.matmul).toBe('wasm');
    expect(mm.note).toMatch(/^wasm kernels: no BLAS found/);
    expect(blasMatmul()).toBeNull();
    expect(() => configureMatmul('wasm', 'on')).toThrow(expect.objectContaining({ code: 'BACKEND_UNAVAILABLE', message: expect.stringMatching(/^--blas on: no BLAS found/) }));
  });

  it('records the backend itself for backends the BLAS does not serve, and off as off', () => {
    expect(configureMatmul('cpu', 'auto')).toEqual({ matmul: 'cpu', note: 'cpu kernels' });
    expect(configureMatmul('wasm', 'off')).toEqual({ matmul: 'wasm', note: 'wasm kernels (--blas off)' });
    expect(() => configureMatmul('cpu', 'on')).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_OPTION' }));
  });
});
