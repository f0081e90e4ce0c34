/** Bitpacked masks declaring numpy's big bit order are read correctly everywhere; other bit orders are refused. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { registerMask } from '../../src/cli/mask';
import { toLittleBitorder, packBits } from '../../src/mask/bitpack';
import { MaskFile, readMask, writeMask } from '../../src/mask/maskfile';
import { writeSafetensors } from '../../src/io/writer';
import { SilError } from '../../src/errors';
import { runCommand } from '../helpers/cli';
import { tmpDir } from '../score/tiny-pair';

const bits = [1, 1, 0, 1, 0, 0, 0, 1, 1, 0, 1]; // 11 entries: two bytes, the last one partial

/** numpy's np.packbits(m, bitorder="big"): entry i in bit 7 − (i mod 8). */
function packBig(m: number[]): Uint8Array {
  const out = new Uint8Array(Math.ceil(m.length / 8));
  m.forEach((v, i) => (out[i >> 3] |= v << (7 - (i & 7))));
  return out;
}

function writePacked(file: string, bitorder: string): void {
  const data = bitorder === 'big' ? packBig(bits) : packBits(Uint8Array.from(bits));
  writeSafetensors(file, [{ name: 'w', shape: [data.length], dtype: 'U8', data }], { format: 'bitpack', bitorder, shape: JSON.stringify({ w: [bits.length] }) });
}

let tmp: string;
beforeEach(() => {
  tmp = tmpDir('bitorder');
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('bitpacked masks and their bit order', () => {
  it("reverses each byte for big (numpy's default) and leaves little as it is", () => {
    expect([...toLittleBitorder(packBig(bits), 'big')]).toEqual([...packBits(Uint8Array.from(bits))]);
  });

  it('reads a big-bitorder file to the same entries as a little one, whole and by range', () => {
    writePacked(path.join(tmp, 'big.safetensors'), 'big');
    writePacked(path.join(tmp, 'little.safetensors'), 'little');
    const big = MaskFile.open(path.join(tmp, 'big.safetensors'));
    expect(big.bitorder).toBe('big');
    expect([...big.read('w')]).toEqual(bits);
    expect([...big.readRange('w', 3, 10)]).toEqual(bits.slice(3, 10));
    big.close();
    expect(readMask(path.join(tmp, 'big.safetensors'))).toEqual(readMask(path.join(tmp, 'little.safetensors')));
  });

  it('sil mask stats and convert count and keep the entries of a big-bitorder file', async () => {
    const f = path.join(tmp, 'big.safetensors');
    writePacked(f, 'big');
    const s = JSON.parse(await runCommand(registerMask, ['mask', 'stats', f, '--json']));
    expect(s).toMatchObject({ selected: 6, total: 11 });
    await runCommand(registerMask, ['mask', 'convert', f, '--out', path.join(tmp, 'u8.safetensors'), '--to', 'u8']);
    expect([...readMask(path.join(tmp, 'u8.safetensors')).tensors[0].data]).toEqual(bits);
  });

  it('refuses a bit order it does not know, naming the file', () => {
    const f = path.join(tmp, 'odd.safetensors');
    writePacked(f, 'middle');
    expect(() => MaskFile.open(f)).toThrow(SilError);
    expect(() => MaskFile.open(f)).toThrow(/bitorder "middle"; supported: little, big.*odd\.safetensors/);
    writeMask(path.join(tmp, 'u8.safetensors'), { tensors: [{ name: 'w', shape: [11], data: Uint8Array.from(bits) }] });
    expect(MaskFile.open(path.join(tmp, 'u8.safetensors')).encoding).toBe('u8');
  });
});
