/**
 * `sil grad --model DIR --batch BATCH.json --out GRADS.safetensors [--snip] [--backend B]
 * [--blas auto|on|off] [--threads N] [--json]`: the loss of a batch and the gradient of every stored parameter, written
 * as float32 `grad/<name>` (checkpoint tensor names) — with `--snip` also `snip/<name>` = |θ ⊙ ∇θ| —
 * in one safetensors file (atomic), with loss, backend and inputs in `__metadata__`.
 *
 * BATCH.json holds `input_ids`, `attention_mask` and `labels` (B×T, right padding, −100 = no loss),
 * exactly as the fixtures' golden.json. On wasm the examples are spread over `--threads` worker
 * threads (default: all cores). `--stream auto|always|never` picks the layer-streamed pass (src/stream/)
 * when the model would not fit in memory, and always on webgpu; `--weight-cache SIZE` keeps up to
 * SIZE of float32 layer weights (then the head) uploaded between its forward and backward passes —
 * by default (`auto`) on webgpu what the GPU's memory leaves after one streamed stage (model/planner, limits.ts),
 * on CPU backends nothing. `--blas` routes the wasm backend's matrix products through the system BLAS
 * (src/blas/; default: when one is found); the summary and the file's metadata say which ran (`matmul`).
 */
import type { Command } from 'commander';
import { withGpuOptions } from './gpu';
import { load } from './lazy';
import { BACKEND_CHOICES } from '../model/choices';
import type { GradOptions, GradSummary } from './grad-run';

export type { GradOptions, GradSummary } from './grad-run';

export async function runGrad(o: GradOptions): Promise<GradSummary> {
  return load<typeof import('./grad-run')>('./grad-run').runGrad(o);
}

export function registerGrad(program: Command): void {
  withGpuOptions(program.command('grad'))
    .description('Loss of a token batch and the gradient of every parameter, as float32 grad/<name> (and snip/<name> = |θ⊙∇θ|) in safetensors')
    .requiredOption('--model <dir>', 'checkpoint folder (config.json + safetensors)')
    .option('--batch <file>', 'JSON with input_ids, attention_mask, labels (B×T; labels −100 = no loss)')
    .option('--data <source>', 'instead of --batch: calibration data (FILE.jsonl, multijail:CSV, polyrefuse:DIR), one language of it (--lang) built as sil locate builds it')
    .option('--lang <code>', 'with --data: the language')
    .option('--responses <mode>', 'with --data: dataset | refusal | compliance | generate:<checkpoint> (default compliance)')
    .option('--system <prompt>', 'with --data: system prompt for every example')
    .option('--kind <kind>', 'with --data: harmful (default) or benign prompts')
    .option('--limit <n>', 'with --data: the first N prompts')
    .option('--max-length <n>', 'with --data: cut responses so an example has at most N tokens')
    .requiredOption('--out <file>', 'output .safetensors')
    .option('--snip', 'also write snip/<name> = |θ ⊙ ∇θ|')
    .option('--force', 'overwrite an existing output file')
    .option('--backend <name>', `TF.js backend: ${BACKEND_CHOICES.join('|')}`, 'auto')
    .option('--blas <mode>', 'wasm matrix products through the system BLAS (OpenBLAS, MKL, Accelerate, SIL_BLAS_LIB): auto (when found; default, or SIL_BLAS) | on | off')
    .option('--threads <n>', 'wasm worker threads (default: all cores)')
    .option('--stream <mode>', 'layer streaming: auto (when the model does not fit, and on webgpu and cuda) | always | never', 'auto')
    .option(
      '--weight-cache <size>',
      'streamed pass: float32 weights kept uploaded from forward to backward (e.g. 60GB, 0); auto = on webgpu and cuda what the GPU memory allows (SIL_DEVICE_MEMORY overrides it), on CPU 0',
      'auto',
    )
    .option(
      '--sequences-per-group <n>',
      'streamed pass: sequences that go through each layer together, their gradients summed before writing; auto = the whole batch, on wasm what the 4 GB heap allows',
      'auto',
    )
    .option('--profile', 'streamed pass: time each stage (synchronising the backend) and print the totals')
    .option('--json', 'print the summary as JSON')
    .action(async (o: GradOptions) => {
      await runGrad(o);
    });
}
