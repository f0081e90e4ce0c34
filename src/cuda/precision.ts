/** The cuda backend's `--precision` choices for matrix products (device.ts): plain data, loaded without the driver bindings. */
export type Precision = 'bf16' | 'tf32' | 'f32';
export const PRECISIONS: Precision[] = ['bf16', 'tf32', 'f32'];
