/**
 * The `--backend` choices (model/backend.ts selects and starts them): plain data, loaded without
 * TF.js, so that the command line can list them without starting a runtime.
 */
export type BackendName = 'wasm' | 'cpu' | 'tensorflow' | 'webgpu' | 'cuda';
export type BackendChoice = BackendName | 'auto';
export const BACKEND_CHOICES: BackendChoice[] = ['auto', 'cuda', 'wasm', 'cpu', 'tensorflow', 'webgpu'];
