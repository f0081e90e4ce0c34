import { runCommand } from '../helpers/cli';
/** `sil stitch` in process (commander program with the stitch command only). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HF_TINY } from '../helpers/fixtures';
import { registerStitch } from '../../src/cli/stitch';
import { Checkpoint } from '../../src/io/checkpoint';
import { writeMask } from '../../src/mask/maskfile';
import { type Mask } from '../../src/mask/mask';
import { scoredTensors, totalOf, weightDiffChunks } from '../../src/score/pair';
import { kOf } from '../../src/select/bits';
import { MaskEmitter, streamThreshold } from '../../src/select/topk';
import { tmpDir, writeTinyPair } from '../score/tiny-pair';

const sil = (...args: string[]): Promise<string> => runCommand(registerStitch, args);

/** weightdiff top-frac mask of a pair, in the base's tensor order */
function deltaMask(base: string, attacked: string, frac: number): Mask {
  const b = Checkpoint.open(base);
  const a = Checkpoint.open(attacked);
  const ts = scoredTensors(b, 'all', 'score');
  const { threshold } = streamThreshold(() => [...weightDiffChunks(b, a, ts)].map((c) => c.scores), kOf(frac, totalOf(ts)));
  const em = new MaskEmitter(threshold);
  const mask = { tensors: [...weightDiffChunks(b, a, ts)].map((c) => ({ name: c.tensor.name, shape: c.tensor.shape, data: em.emit(c.scores) })) };
  b.close();
  a.close();
  return mask;
}

let tmp: string;
beforeEach(() => {
  tmp = tmpDir('stitch');
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('sil stitch', () => {
  it('takes attacked values where γ = 1 and base values elsewhere, bit for bit, copying config and tokenizer files', async () => {
    const { base, attacked } = writeTinyPair(tmp, (_n, _s, v) => {
      for (let i = 0; i < v.length; i++) v[i] += 1 / 256;
    });
    const b = Checkpoint.open(base);
    const mask: Mask = { tensors: b.names().map((name) => ({ name, shape: b.info(name).shape, data: Uint8Array.from({ length: b.info(name).numel }, (_, i) => (i % 3 === 1 ? 1 : 0)) })) };
    writeMask(path.join(tmp, 'm.safetensors'), mask, 'bitpack');
    const out = path.join(tmp, 'out');
    const text = await sil('stitch', '--base', base, '--attacked', attacked, '--mask', path.join(tmp, 'm.safetensors'), '--out', out, '--json');
    const summary = JSON.parse(text);
    expect(summary.from_attacked).toBe(mask.tensors.reduce((s, t) => s + t.data.reduce((x, y) => x + y, 0), 0));
    expect(fs.readdirSync(out).sort()).toEqual(['.sil-output.json', 'config.json', 'model.safetensors', 'tokenizer.json']);
    expect(fs.readFileSync(path.join(out, 'tokenizer.json'), 'utf8')).toBe(fs.readFileSync(path.join(base, 'tokenizer.json'), 'utf8'));
    const a = Checkpoint.open(attacked);
    const s = Checkpoint.open(out);
    for (const t of mask.tensors) {
      expect(s.info(t.name).dtype).toBe('BF16');
      const want = b.readF32(t.name).map((v, i) => (t.data[i] ? a.readF32(t.name)[i] : v));
      expect(s.readF32(t.name)).toEqual(want);
    }
    for (const c of [a, b, s]) c.close();
  });

  it('keeps the base sharding of a sharded pair (7 shards and index), and γ = all ones gives the attacked weights', async () => {
    const q = path.join(HF_TINY, 'qwen2-tiny-bf16-sharded');
    const mask = deltaMask(path.join(q, 'base'), path.join(q, 'attacked'), 1);
    writeMask(path.join(tmp, 'all.safetensors'), mask);
    const out = path.join(tmp, 'out');
    await sil('stitch', '--base', path.join(q, 'base'), '--attacked', path.join(q, 'attacked'), '--mask', path.join(tmp, 'all.safetensors'), '--out', out);
    expect(fs.readdirSync(out).sort()).toEqual(['.sil-output.json', ...fs.readdirSync(path.join(q, 'base'))].sort());
    const a = Checkpoint.open(path.join(q, 'attacked'));
    const s = Checkpoint.open(out);
    expect(s.files.length).toBe(7);
    for (const n of a.names()) expect(Buffer.from(s.readBytes(n)).equals(Buffer.from(a.readBytes(n)))).toBe(true);
    a.close();
    s.close();
  });

  it('with --onto T takes T where γ = 0', async () => {
    const pair = writeTinyPair(path.join(tmp, 'p'), (_n, _s, v) => {
      for (let i = 0; i < v.length; i++) v[i] += 1 / 256;
    });
    const third = writeTinyPair(path.join(tmp, 't'), (_n, _s, v) => {
      for (let i = 0; i < v.length; i++) v[i] -= 1 / 128;
    }).attacked;
    const mask = deltaMask(pair.base, pair.attacked, 0.25);
    writeMask(path.join(tmp, 'm.safetensors'), mask);
    const out = path.join(tmp, 'out');
    await sil('stitch', '--base', pair.base, '--attacked', pair.attacked, '--mask', path.join(tmp, 'm.safetensors'), '--out', out, '--onto', third);
    const [a, t, s] = [pair.attacked, third, out].map((p) => Checkpoint.open(p));
    for (const m of mask.tensors) {
      const av = a.readF32(m.name);
      expect(s.readF32(m.name)).toEqual(t.readF32(m.name).map((v, i) => (m.data[i] ? av[i] : v)));
    }
    for (const c of [a, t, s]) c.close();
  });

  it('refuses mismatched base and attacked, a mask of the wrong shape, and a non-empty output folder, writing nothing', async () => {
    const pair = writeTinyPair(path.join(tmp, 'p'), () => {});
    const q = path.join(HF_TINY, 'qwen2-tiny-bf16-sharded');
    const mask = deltaMask(pair.base, pair.attacked, 0.5);
    const good = path.join(tmp, 'good.safetensors');
    writeMask(good, mask);
    const out = path.join(tmp, 'out');
    await expect(sil('stitch', '--base', pair.base, '--attacked', path.join(q, 'attacked'), '--mask', good, '--out', out)).rejects.toMatchObject({
      code: 'CHECKPOINT_MISMATCH',
      message: expect.stringMatching(/tensor/),
    });
    const bad = path.join(tmp, 'bad.safetensors');
    writeMask(bad, { tensors: mask.tensors.map((t) => (t.name === 'model.layers.0.mlp.up_proj.weight' ? { ...t, shape: [8, 12] } : t)) });
    await expect(sil('stitch', '--base', pair.base, '--attacked', pair.attacked, '--mask', bad, '--out', out)).rejects.toMatchObject({
      code: 'MASK_MISMATCH',
      message: expect.stringMatching(/bad\.safetensors.*tensor model\.layers\.0\.mlp\.up_proj\.weight/),
    });
    const partial = path.join(tmp, 'partial.safetensors');
    writeMask(partial, { tensors: mask.tensors.slice(1) });
    await expect(sil('stitch', '--base', pair.base, '--attacked', pair.attacked, '--mask', partial, '--out', out)).rejects.toMatchObject({
      code: 'MASK_MISMATCH',
      message: expect.stringMatching(/no entry.*model\.embed_tokens\.weight/),
    });
    expect(fs.existsSync(out)).toBe(false);
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'keep.txt'), 'x');
    await expect(sil('stitch', '--base', pair.base, '--attacked', pair.attacked, '--mask', good, '--out', out)).rejects.toMatchObject({ code: 'OUTPUT_EXISTS' });
    expect(fs.readdirSync(out)).toEqual(['keep.txt']);
    expect(fs.readdirSync(tmp).filter((f) => f.startsWith('.tmp'))).toEqual([]);
  });
});
