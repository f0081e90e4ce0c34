/**
 * `sil stitch --base B --attacked A --mask M --out DIR [--onto T]`: θ = (1 − γ) ⊙ θpre + γ ⊙ θattacked
 * (or onto T) as a complete Hugging Face checkpoint folder; see src/stitch/stitch.ts.
 */
import type { Command } from 'commander';
import { load } from './lazy';
import type { StitchOptions } from '../stitch/stitch';

type StitchCliOptions = Pick<StitchOptions, 'base' | 'attacked' | 'mask' | 'out' | 'onto' | 'force'> & { json?: boolean };

export async function runStitch(o: StitchCliOptions): Promise<void> {
  const t0 = Date.now();
  const { stitchCheckpoint } = load<typeof import('../stitch/stitch')>('../stitch/stitch');
  const r = await stitchCheckpoint({ base: o.base, attacked: o.attacked, mask: o.mask, out: o.out, onto: o.onto, force: o.force });
  const summary = {
    out: o.out,
    onto: o.onto ?? o.base,
    tensors: r.tensors,
    parameters: r.total,
    from_attacked: r.selected,
    fraction: r.total ? r.selected / r.total : 0,
    files: r.files,
    seconds: (Date.now() - t0) / 1000,
  };
  if (o.json) process.stdout.write(JSON.stringify(summary) + '\n');
  else process.stdout.write(`stitched ${r.selected} of ${r.total} parameters (${(100 * summary.fraction).toFixed(3)}%) from ${o.attacked} onto ${summary.onto} → ${o.out}\n`);
}

export function registerStitch(program: Command): void {
  program
    .command('stitch')
    .description('θ = (1−γ)⊙θpre + γ⊙θattacked: the attacked weights only where the mask is 1, as a complete HF checkpoint folder')
    .requiredOption('--base <dir>', 'aligned checkpoint θpre')
    .requiredOption('--attacked <dir>', 'attacked checkpoint θattacked')
    .requiredOption('--mask <file>', 'mask (.safetensors, U8 or bitpacked) with the checkpoint tensor names and shapes')
    .requiredOption('--out <dir>', 'output checkpoint folder (built atomically)')
    .option('--onto <dir>', 'write onto this checkpoint T instead of θpre: θ = (1−γ)⊙θT + γ⊙θattacked')
    .option('--force', 'replace a non-empty output folder')
    .option('--json', 'print a JSON summary')
    .action(runStitch);
}
