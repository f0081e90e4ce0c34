import * as fs from 'node:fs';
import * as path from 'node:path';
import { Checkpoint } from '../../src/io/checkpoint';
import { writeMask } from '../../src/mask/maskfile';
import { useBackend } from '../../src/model/backend';
import { parseModelConfig } from '../../src/model/config';
import { ADAMW_DEFAULTS } from '../../src/train/adamw';
import { finetune, recordsToExamples } from '../../src/train/finetune';
import { LocalGrads } from '../../src/train/grads';
import { train } from '../../src/train/loop';
import { ParamStore } from '../../src/train/params';
import { loadTokenizer } from '../../src/tokenizer/load';
import type { CalibrationRecord } from '../../src/data/schema';
import { makeTinyChat, RECORDS, TINY_CONFIG, tmpDir, writeJsonl } from './tiny-chat';

describe('sil finetune', () => {
  let root: string;
  let base: string;
  let data: string;
  beforeAll(async () => {
    await useBackend('wasm');
    root = tmpDir('sil-ft-');
    base = await makeTinyChat(path.join(root, 'base'));
    data = writeJsonl(path.join(root, 'data.jsonl'), RECORDS);
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  const common = { lr: 1e-2, epochs: 2, warmup: 1, batchSize: 2, gradAccum: 2, seed: 3, threads: 1 };

  it('keeps every frozen entry bit-exactly unchanged while the others move', async () => {
    const ckpt = Checkpoint.open(base);
    const names = ckpt.names();
    const tensors = names.map((name, t) => {
      const info = ckpt.info(name);
      const data = new Uint8Array(info.numel);
      for (let i = 0; i < data.length; i++) data[i] = t === 0 ? 1 : (i * 7 + t) % 3 === 0 ? 1 : 0;
      return { name, shape: info.shape, data };
    });
    const maskFile = path.join(root, 'freeze.safetensors');
    writeMask(maskFile, { tensors });
    const out = path.join(root, 'frozen');
    const r = await finetune({ model: base, data, out, freeze: maskFile, ...common });
    expect(r.frozen).toBe(tensors.reduce((a, t) => a + t.data.reduce((x, y) => x + y, 0), 0));
    const after = Checkpoint.open(out);
    let moved = 0;
    for (const t of tensors) {
      expect(after.info(t.name).dtype).toBe('BF16');
      const a = new Uint16Array(ckpt.readBytes(t.name).slice().buffer);
      const b = new Uint16Array(after.readBytes(t.name).slice().buffer);
      for (let i = 0; i < t.data.length; i++) {
        if (t.data[i]) expect(b[i]).toBe(a[i]);
        else if (a[i] !== b[i]) moved++;
      }
    }
    expect(moved).toBeGreaterThan(1000);
    after.close();
    ckpt.close();
  });

  it('gives byte-identical checkpoints for two runs with the same seed', async () => {
    const a = path.join(root, 'run-a');
    const b = path.join(root, 'run-b');
    await finetune({ model: base, data, out: a, ...common });
    await finetune({ model: base, data, out: b, ...common });
    const fa = fs.readFileSync(path.join(a, 'model.safetensors'));
    const fb = fs.readFileSync(path.join(b, 'model.safetensors'));
    expect(fa.equals(fb)).toBe(true);
    expect(fa.equals(fs.readFileSync(path.join(base, 'model.safetensors')))).toBe(false);
  });

  it('writes an HF folder with the input dtype, config and tokenizer files copied', async () => {
    const out = path.join(root, 'run-a');
    expect(fs.readFileSync(path.join(out, 'config.json'), 'utf8')).toBe(fs.readFileSync(path.join(base, 'config.json'), 'utf8'));
    expect(fs.existsSync(path.join(out, 'tokenizer.json'))).toBe(true);
    expect(fs.existsSync(path.join(out, 'tokenizer_config.json'))).toBe(true);
    const a = Checkpoint.open(base);
    const b = Checkpoint.open(out);
    expect(b.names()).toEqual(a.names());
    for (const n of a.names()) expect(b.info(n).dtype).toBe(a.info(n).dtype);
    a.close();
    b.close();
  });

  it('refuses to overwrite a non-empty output folder without force', async () => {
    await expect(finetune({ model: base, data, out: path.join(root, 'run-a'), ...common })).rejects.toMatchObject({ code: 'OUTPUT_EXISTS' });
  });

  it('rejects a freeze mask whose shapes do not fit the checkpoint', async () => {
    const bad = path.join(root, 'bad-mask.safetensors');
    writeMask(bad, { tensors: [{ name: 'model.embed_tokens.weight', shape: [2, 2], data: new Uint8Array(4) }] });
    await expect(finetune({ model: base, data, out: path.join(root, 'never'), freeze: bad, ...common })).rejects.toMatchObject({ code: 'MASK_MISMATCH' });
    expect(fs.existsSync(path.join(root, 'never'))).toBe(false);
  });

  it('decreases the training loss on a tiny model', async () => {
    const cfg = parseModelConfig(TINY_CONFIG);
    const tok = loadTokenizer(base);
    const ckpt = Checkpoint.open(base);
    const params = ParamStore.fromCheckpoint(cfg, ckpt);
    ckpt.close();
    const examples = recordsToExamples(tok, RECORDS as CalibrationRecord[]);
    const log = await train(params, examples, new LocalGrads(cfg), {
      lr: 1e-2,
      epochs: 30,
      warmup: 2,
      schedule: 'cosine',
      batchSize: 5,
      gradAccum: 1,
      seed: 1,
      adamw: ADAMW_DEFAULTS,
      maxGradNorm: 1,
      padId: tok.padId(),
    });
    expect(log).toHaveLength(30);
    expect(log[log.length - 1].loss).toBeLessThan(0.5 * log[0].loss);
  });

  it('warns before training when the learning rate never leaves warm-up, and not otherwise', async () => {
    // RECORDS gives 4 optimizer steps (2 × 2 examples per step, 2 epochs), fewer than 10 warm-up steps
    const seen: string[] = [];
    const r = await finetune({ model: base, data, out: path.join(root, 'warm'), ...common, warmup: 10, lr: 1e-3, onWarning: (w) => seen.push(w) });
    expect(r.log.map((s) => s.lr)).toEqual([0, 1e-4, 2e-4, 3.0000000000000003e-4]);
    expect(seen).toEqual(r.warnings);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toContain('never leaves warm-up: --warmup 10 ≥ 4 optimizer step(s), so it peaks at 3.00e-4 instead of --lr 1.00e-3');
    const quiet = await finetune({ model: base, data, out: path.join(root, 'warm-ok'), ...common, warmup: 1 });
    expect(quiet.warnings).toEqual([]);
  });
});
