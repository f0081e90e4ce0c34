/**
 * The PyTorch freezing block of docs/masks.md and the one notebook 03 prints, run against PyTorch: the
 * masked entries stay bit-exactly unchanged under AdamW (weight decay 0.01) and under SGD with
 * momentum and weight decay, while a gradient hook alone lets every masked entry move; the same
 * mask file freezes the same entries in `sil finetune --freeze`. Skipped, with the reason in the
 * name, where no python3 imports torch (CI installs Debian's python3-torch).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Checkpoint } from '../../src/io/checkpoint';
import { writeMask } from '../../src/mask/maskfile';
import { finetune } from '../../src/train/finetune';
import { mulberry32 } from '../../src/train/rng';

const root = path.resolve(__dirname, '../..');
const DEMO = path.join(root, 'weights/demo/base');
const HARNESS = path.join(__dirname, 'python/freeze_check.py');
const SHIM = path.join(__dirname, 'python/shim');

/** The first python3 that imports torch, and whether it needs the safetensors stand-in. */
function findPython(): { python: string; env: NodeJS.ProcessEnv } | null {
  for (const python of [process.env.SIL_PYTHON, '/usr/bin/python3', 'python3'].filter((p): p is string => !!p)) {
    if (spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status !== 0) continue;
    const hasSt = spawnSync(python, ['-c', 'import safetensors.torch'], { stdio: 'ignore' }).status === 0;
    return { python, env: hasSt ? process.env : { ...process.env, PYTHONPATH: [SHIM, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter) } };
  }
  return null;
}

const py = findPython();
const have = py !== null && fs.existsSync(path.join(DEMO, 'model.safetensors'));
const maybe = have ? describe : describe.skip;
const why = have ? '' : ' [skipped: no python3 here imports torch (Debian: apt-get install python3-torch)]';

interface Moved {
  masked: number;
  changed_masked: number;
  unmasked: number;
  changed_unmasked: number;
}

/** The fenced python block of a markdown text that contains `marker`. */
function pythonBlock(md: string, marker: string): string {
  const blocks = [...md.matchAll(/```python\n([\s\S]*?)```/g)].map((m) => m[1]);
  const hit = blocks.filter((b) => b.includes(marker));
  if (hit.length !== 1) throw new Error(`expected one python block with ${marker}, found ${hit.length}`);
  return hit[0];
}

maybe(`PyTorch freezing with a sil mask${why}`, () => {
  let dir: string;
  let maskFile: string;
  let selected = 0;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-freeze-torch-'));
    const ckpt = Checkpoint.open(DEMO);
    const rand = mulberry32(5).uniform;
    const tensors = ckpt.names().map((name) => {
      const info = ckpt.info(name);
      const data = new Uint8Array(info.numel);
      for (let i = 0; i < data.length; i++) data[i] = rand() < 0.05 ? 1 : 0;
      selected += data.reduce((a, b) => a + b, 0);
      return { name, shape: info.shape, data };
    });
    ckpt.close();
    maskFile = path.join(dir, 'reports/RUN/masks/intersection.safetensors');
    fs.mkdirSync(path.dirname(maskFile), { recursive: true });
    writeMask(maskFile, { tensors });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const run = (code: string, optimizer: string, steps: number): Moved => {
    const file = path.join(dir, `snippet-${optimizer}-${steps}.py`);
    fs.writeFileSync(file, code);
    const r = spawnSync(py!.python, [HARNESS, file, path.join(DEMO, 'model.safetensors'), maskFile, optimizer, String(steps)], { cwd: dir, env: py!.env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as Moved;
  };

  it('the freezing block of docs/masks.md keeps every masked entry bit-exactly unchanged over 3 AdamW steps with weight decay 0.01, while the others move', () => {
    const code = pythonBlock(fs.readFileSync(path.join(root, 'docs', 'masks.md'), 'utf8'), 'restore_frozen');
    const m = run(code, 'snippet', 3);
    expect(m.masked).toBe(selected);
    expect(m.changed_masked).toBe(0);
    expect(m.changed_unmasked / m.unmasked).toBeGreaterThan(0.99);
  }, 120000);

  it('the freezing block of docs/masks.md holds under SGD with momentum 0.9 and weight decay 0.01 too', () => {
    const code = pythonBlock(fs.readFileSync(path.join(root, 'docs', 'masks.md'), 'utf8'), 'restore_frozen');
    const m = run(code, 'sgd-wd', 3);
    expect(m.changed_masked).toBe(0);
    expect(m.changed_unmasked / m.unmasked).toBeGreaterThan(0.99);
  }, 120000);

  it('a gradient hook alone lets AdamW’s weight decay move the masked entries in the first step', () => {
    const hookOnly = `import torch
from safetensors.torch import load_file
mask = load_file("reports/RUN/masks/intersection.safetensors")
for name, p in model.named_parameters():
    if name in mask:
        keep = 1 - mask[name].to(p.device, p.dtype)
        p.register_hook(lambda g, keep=keep: g * keep)
optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)
for batch in loader:
    model(**batch).loss.backward()
    optimizer.step()
    optimizer.zero_grad()
`;
    const m = run(hookOnly, 'snippet', 1);
    // every masked entry is scaled by (1 − lr·λ) = 1 − 2e-7, which float32 registers: all of them move
    expect(m.masked).toBe(selected);
    expect(m.changed_masked).toBe(m.masked);
  }, 120000);

  it('the snippet notebook 03 prints runs as printed and freezes too', () => {
    const nb = JSON.parse(fs.readFileSync(path.join(root, 'notebooks/03-freeze-mask.ipynb'), 'utf8')) as { cells: Array<{ source: string | string[] }> };
    const src = nb.cells.map((c) => (Array.isArray(c.source) ? c.source.join('') : c.source)).find((s) => s.includes('const snippet = `'))!;
    const code = src
      .slice(src.indexOf('const snippet = `') + 'const snippet = `'.length, src.indexOf('`;', src.indexOf('const snippet = `')))
      .replace('${path.basename(file)}', 'reports/RUN/masks/intersection.safetensors');
    const m = run(code, 'snippet', 2);
    expect(m.changed_masked).toBe(0);
    expect(m.changed_unmasked / m.unmasked).toBeGreaterThan(0.99);
  }, 120000);

  it('the same mask file freezes the same entries in sil finetune --freeze', async () => {
    const out = path.join(dir, 'sil-frozen');
    await finetune({ model: DEMO, data: path.join(root, 'data/demo-attack-en.jsonl'), out, freeze: maskFile, lr: 1e-3, warmup: 0, maxSteps: 2, batchSize: 4, gradAccum: 1, seed: 0 });
    const a = Checkpoint.open(DEMO);
    const b = Checkpoint.open(out);
    const mask = Checkpoint.open(maskFile);
    let frozenMoved = 0;
    let moved = 0;
    for (const n of a.names()) {
      const x = a.readBytes(n);
      const y = b.readBytes(n);
      const m = mask.readBytes(n);
      for (let i = 0; i < m.length; i++) {
        const same = x[2 * i] === y[2 * i] && x[2 * i + 1] === y[2 * i + 1];
        if (m[i] && !same) frozenMoved++;
        if (!m[i] && !same) moved++;
      }
    }
    a.close();
    b.close();
    mask.close();
    expect(frozenMoved).toBe(0);
    expect(moved).toBeGreaterThan(10000);
  }, 300000);
});
