/**
 * d3 v7 is ESM-only and this package is CommonJS: the d3 modules are loaded once with a dynamic
 * `import()` (kept as a real import by tsc's node16 module mode) and handed to the figure builders.
 */
export interface D3 {
  scale: typeof import('d3-scale');
  chromatic: typeof import('d3-scale-chromatic');
  format: typeof import('d3-format');
  array: typeof import('d3-array');
}

let cached: Promise<D3> | null = null;

export function loadD3(): Promise<D3> {
  cached ??= Promise.all([import('d3-scale'), import('d3-scale-chromatic'), import('d3-format'), import('d3-array')]).then(([scale, chromatic, format, array]) => ({
    scale,
    chromatic,
    format,
    array,
  }));
  return cached;
}
