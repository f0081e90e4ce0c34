/**
 * The GPU parity suite (`npm run test:gpu`, scripts/gpu/parity.js): --precision f32 against every
 * PyTorch golden at ≤ 1e-5 relative L2 per tensor, bf16 gradients ≤ 3e-2, bf16 vs f32 SIL masks at
 * k = 0.2 with IoU ≥ 0.97. Needs an NVIDIA GPU and the CUDA libraries; skipped with the reason
 * otherwise. Runs the built CLI (npm test builds first).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { backendSkipReason } from '../model/parity-helpers';

const skip = backendSkipReason('cuda');

(skip ? it.skip : it)(
  `passes every GPU parity check (f32 and bf16 against the goldens, mask IoU)${skip ? ` (skipped: cuda unavailable here: ${skip})` : ''}`,
  () => {
    const r = spawnSync(process.execPath, [path.resolve(__dirname, '../../scripts/gpu/parity.js')], { encoding: 'utf8', timeout: 600_000 });
    if (r.status !== 0) throw new Error(r.stdout + r.stderr);
    expect(r.stdout).toMatch(/\n\d+ passed, 0 failed\n$/);
  },
  600_000,
);
