/**
 * test/goldens/torch-ops.json: PyTorch goldens of the operations around the model on the shared
 * hf-tiny fixtures (the sil score, Wanda's layer-input norms, AdamW steps), written by
 * `python3 scripts/goldens/make_goldens.py --ops test/goldens/torch-ops.json`. A missing file fails
 * the tests that read it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const TORCH_OPS = path.resolve(__dirname, '../goldens/torch-ops.json');

export interface TopK {
  frac: number;
  k: number;
  n: number;
  threshold: number;
  count_gt: number;
  count_eq: number;
}

export interface TorchOps {
  producer: { script: string; torch: string; package: string | null; python: string };
  fixtures: Record<
    string,
    {
      sil: {
        tensors: Record<string, { numel: number; sum: number; max: number; argmax: number; stride: number; every_stride: number[] }>;
        topk: { all: TopK[]; linear: TopK[] };
      };
      wanda: { tokens: number; examples: number; norms: Record<string, number[]> };
    }
  >;
  adamw: Array<{
    name: string;
    options: { beta1: number; beta2: number; eps: number; weightDecay: number };
    lrs: number[];
    param: number[];
    grads: number[][];
    after: number[][];
    m: number[];
    v: number[];
  }>;
}

export function torchOps(): TorchOps {
  if (!fs.existsSync(TORCH_OPS)) throw new Error(`missing goldens: ${TORCH_OPS} (python3 scripts/goldens/make_goldens.py --ops ${path.relative(process.cwd(), TORCH_OPS)} writes it)`);
  return JSON.parse(fs.readFileSync(TORCH_OPS, 'utf8')) as TorchOps;
}
