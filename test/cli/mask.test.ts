import { runCommand } from '../helpers/cli';
/** `sil mask stats|convert|invert|eval` in process (commander program with the mask command only). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { registerMask } from '../../src/cli/mask';
import { MaskFile, readMask, writeMask } from '../../src/mask/maskfile';
import { type Mask } from '../../src/mask/mask';
import { tmpDir } from '../score/tiny-pair';

const sil = (...args: string[]): Promise<string> => runCommand(registerMask, args);

const layout = [
  { name: 'w', shape: [2, 5] },
  { name: 'b', shape: [3] },
];
const make = (bits: number[][]): Mask => ({ tensors: layout.map((t, i) => ({ ...t, data: Uint8Array.from(bits[i]) })) });

let tmp: string;
beforeEach(() => {
  tmp = tmpDir('mask');
  writeMask(
    path.join(tmp, 'en.safetensors'),
    make([
      [1, 1, 1, 0, 0, 1, 1, 0, 0, 0],
      [1, 0, 1],
    ]),
  );
  writeMask(
    path.join(tmp, 'it.safetensors'),
    make([
      [1, 1, 0, 0, 1, 1, 0, 0, 0, 0],
      [1, 1, 1],
    ]),
    'bitpack',
  );
  writeMask(
    path.join(tmp, 'benign.safetensors'),
    make([
      [0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
      [1, 0, 0],
    ]),
  );
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('sil mask', () => {
  it('stats names both denominators: all parameters, and the in-scope ones locate takes k of', async () => {
    // a Llama layout: two projections (in scope under linear) and a norm (not)
    const names = [
      { name: 'model.layers.0.self_attn.q_proj.weight', shape: [4, 4] },
      { name: 'model.layers.0.mlp.down_proj.weight', shape: [4, 6] },
      { name: 'model.layers.0.input_layernorm.weight', shape: [4] },
    ];
    const m: Mask = { tensors: names.map((t, i) => ({ ...t, data: Uint8Array.from({ length: t.shape.reduce((a, b) => a * b, 1) }, (_, j) => (i < 2 && j % 5 === 0 ? 1 : 0)) })) };
    const f = path.join(tmp, 'scoped.safetensors');
    writeMask(f, m, 'u8', { scope: 'linear' });
    const s = JSON.parse(await sil('mask', 'stats', f, '--json'));
    // 4 of the 16 q entries and 5 of the 24 down entries: 9 of 44 in all, of the 40 in scope
    expect(s).toMatchObject({ selected: 9, total: 44, scope: 'linear', in_scope: 40 });
    expect(s.fraction).toBeCloseTo(9 / 44, 12);
    expect(s.fraction_of_scope).toBeCloseTo(9 / 40, 12);
    const text = await sil('mask', 'stats', f);
    expect(text).toContain('9 selected = 20.4545% of all 44 parameters; 22.5000% of the 40 in scope (--scope linear: the denominator of locate');
  });

  it('stats counts selected entries per mask and per tensor', async () => {
    const s = JSON.parse(await sil('mask', 'stats', path.join(tmp, 'en.safetensors'), '--tensors', '--json'));
    expect(s).toMatchObject({ encoding: 'u8', tensors: 2, selected: 7, total: 13 });
    expect(s.per_tensor.map((t: { selected: number }) => t.selected)).toEqual([5, 2]);
  });

  it('convert turns U8 into bitpack and back without changing any entry', async () => {
    const en = path.join(tmp, 'en.safetensors');
    await sil('mask', 'convert', en, '--out', path.join(tmp, 'en.bits.safetensors'));
    const f = MaskFile.open(path.join(tmp, 'en.bits.safetensors'));
    expect(f.encoding).toBe('bitpack');
    f.close();
    await sil('mask', 'convert', path.join(tmp, 'en.bits.safetensors'), '--out', path.join(tmp, 'back.safetensors'), '--to', 'u8');
    expect(readMask(path.join(tmp, 'back.safetensors'))).toEqual(readMask(en));
  });

  it('invert writes the complement', async () => {
    await sil('mask', 'invert', path.join(tmp, 'it.safetensors'), '--out', path.join(tmp, 'freeze.safetensors'));
    const m = readMask(path.join(tmp, 'freeze.safetensors'));
    expect([...m.tensors[0].data]).toEqual([0, 0, 1, 1, 0, 0, 1, 1, 1, 1]);
    expect([...m.tensors[1].data]).toEqual([0, 0, 0]);
  });

  it('eval "en & it & !benign" writes en ∩ it ∩ ¬benign, mixing U8 and bitpacked inputs', async () => {
    const out = path.join(tmp, 'agnostic.safetensors');
    const r = JSON.parse(await sil('mask', 'eval', 'en & it & !benign', '--dir', tmp, '--out', out, '--json'));
    expect(r).toMatchObject({ selected: 3, total: 13 });
    const m = readMask(out);
    expect([...m.tensors[0].data]).toEqual([1, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
    expect([...m.tensors[1].data]).toEqual([0, 0, 1]);
  });

  it('eval refuses masks whose shapes differ, naming the file and tensor, and writes nothing', async () => {
    writeMask(path.join(tmp, 'odd.safetensors'), {
      tensors: [
        { name: 'w', shape: [5, 2], data: new Uint8Array(10) },
        { name: 'b', shape: [3], data: new Uint8Array(3) },
      ],
    });
    const out = path.join(tmp, 'x.safetensors');
    await expect(sil('mask', 'eval', 'en | q', '--dir', tmp, '--mask', `q=${path.join(tmp, 'odd.safetensors')}`, '--out', out)).rejects.toMatchObject({
      code: 'MASK_MISMATCH',
      message: expect.stringMatching(/odd\.safetensors.*tensor w/),
    });
    expect(fs.existsSync(out)).toBe(false);
  });
});
