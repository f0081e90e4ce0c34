/**
 * The `--backend` choices (model/backend.ts selects and starts them): plain data, loaded without
 * TF.js, so that the command line can list them without starting a runtime.
 */
import { SilError } from '../errors';

export type BackendName = 'wasm' | 'cpu' | 'tensorflow' | 'webgpu' | 'cuda';
export type BackendChoice = BackendName | 'auto';
export const BACKEND_CHOICES: BackendChoice[] = ['auto', 'cuda', 'wasm', 'cpu', 'tensorflow', 'webgpu'];

/** `--backend`'s help where auto picks the backend (finetune, eval, sweep). */
export const BACKEND_HELP = `TF.js backend: ${BACKEND_CHOICES.join(' | ')} (auto: webgpu when a GPU adapter exists, else tensorflow when installed, else wasm)`;

/** `--backend`'s value, one of BACKEND_CHOICES (INVALID_ARGUMENT otherwise). */
export function backendChoice(v: string): BackendChoice {
  if (!(BACKEND_CHOICES as readonly string[]).includes(v)) throw new SilError('INVALID_ARGUMENT', `unknown backend "${v}"; choose one of ${BACKEND_CHOICES.join(', ')}`);
  return v as BackendChoice;
}
