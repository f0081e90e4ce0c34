/**
 * Jest global setup: which TF.js backends run on this machine, probed once (the probes are
 * asynchronous: WebGPU asks for an adapter, cuda loads the driver) before any test file loads, so
 * that test files choose `describe.skip` / `it.skip` with the reason at load time. The result
 * reaches the test workers as SIL_TEST_BACKENDS (JSON: backend → null or the reason).
 */
import { backendAvailability, BackendName } from '../../src/model/backend';

export default async function probeBackends(): Promise<void> {
  if (process.env.SIL_TEST_BACKENDS) return;
  const out: Record<string, string | null> = {};
  for (const b of ['cpu', 'wasm', 'webgpu', 'tensorflow', 'cuda'] as BackendName[]) out[b] = await backendAvailability(b);
  process.env.SIL_TEST_BACKENDS = JSON.stringify(out);
}
