/**
 * The masks users rely on, pinned byte for byte: the sha256 of every mask file `sil locate` writes
 * on the demo pair (the README's command) and on the hf-tiny fixtures (gradient sums from the
 * goldens, so no gradients are computed). The demo runs pass `--blas off`: products through a
 * system BLAS round differently from wasm's (and from one CPU's BLAS kernels to another's), so only
 * the wasm path has masks that are the same bytes on every machine. With OpenBLAS 0.3.21 on the
 * 2-core development machine, `--blas auto` swaps 2 of 771,840 entries at the threshold of the
 * benign mask. A refactor that changes one bit of a mask
 * fails here. If a change of masks is intended, say so in the commit and update the hashes below
 * from the `got` the failure prints.

 * The BLAS run is held to the pinned language masks and to a bound on the entries that differ.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { blasUnavailable } from '../../src/blas';
import { HF_TINY } from '../helpers/fixtures';
import { REPO, sil } from './helpers';

const DEMO = path.join(REPO, 'weights/demo');
const LLAMA = path.join(HF_TINY, 'llama3-tiny-bf16');
const QWEN = path.join(HF_TINY, 'qwen2-tiny-bf16-sharded');

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-pinned-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** sha256 of every file in `<out>/masks`, by file name. */
function maskHashes(out: string): Record<string, string> {
  const dir = path.join(out, 'masks');
  const hashes: Record<string, string> = {};
  for (const f of fs.readdirSync(dir).sort())
    hashes[f] = createHash('sha256')
      .update(fs.readFileSync(path.join(dir, f)))
      .digest('hex');
  return hashes;
}

function locate(name: string, args: string[]): Record<string, string> {
  const out = path.join(tmp, name);
  const r = sil('locate', ...args, '--out', out);
  if (r.code !== 0) throw new Error(`sil locate ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return maskHashes(out);
}

const fx = (dir: string) => ['--base', path.join(dir, 'base'), '--attacked', path.join(dir, 'attacked')];

const DEMO_SIL: Record<string, string> = {
  'benign.safetensors': '4b316f200990235e108114f003926ea4e16e70f88cc5410f0715e13176f9bc69',
  'en.safetensors': '024aa5460249d251456a958b5728ae0b6cf5f59b941cc213366ec30f241e65f8',
  'es.safetensors': 'e9c6b0379d754103ee8de8c944da9bdaa9fd8c549e0359ce1d74ba4e5c10805c',
  'fr.safetensors': 'be6dc125e9af02f7dcda1308ec88ea285e88e911738157f94dd21e5ef8906a44',
  'intersection.safetensors': 'f51fb86cc4f6732d09f1667504ef46420a8d6e2a0772bca7be7a083d6bf2c183',
  'it.safetensors': '9fdfc3dd6131a0f5c893727f5c47bde680ab81b3f24967503182bcca8f5445a7',
  'random.safetensors': 'f9a0524e82013006029cc2244d695e7c109ed353b9cfdb3ca886c4d4d446d7ed',
  'union.safetensors': 'b4509a999cecfe4dec83062eab0e5854b38f98e749945decc64eda9517ea7098',
};

describe('mask files pinned by sha256', () => {
  const demo = fs.existsSync(path.join(DEMO, 'base')) && fs.existsSync(path.join(DEMO, 'attacked'));
  (demo ? it : it.skip)(`sil locate on the demo pair with the README's options on wasm writes the pinned masks${demo ? '' : ' (skipped: weights/demo is missing)'}`, () => {
    expect(locate('demo', ['--blas', 'off'])).toEqual(DEMO_SIL);
  });

  const noBlas = blasUnavailable();
  (demo && !noBlas ? it : it.skip)(
    `with the system BLAS the demo's language masks are the pinned bytes and the others differ in at most 8 entries${demo ? (noBlas ? ` (skipped: ${noBlas})` : '') : ' (skipped: weights/demo is missing)'}`,
    () => {
      const got = locate('demo-blas', ['--blas', 'on']);
      for (const f of ['en', 'it', 'fr', 'es'].map((l) => `${l}.safetensors`)) expect([f, got[f]]).toEqual([f, DEMO_SIL[f]]);
      for (const f of Object.keys(DEMO_SIL)) {
        const ref = fs.readFileSync(path.join(tmp, 'demo', 'masks', f));
        const blas = fs.readFileSync(path.join(tmp, 'demo-blas', 'masks', f));
        let differ = 0;
        for (let i = 0; i < ref.length; i++) if (ref[i] !== blas[i]) differ++;
        expect([f, blas.length, differ <= 8]).toEqual([f, ref.length, true]);
      }
    },
  );

  (demo ? it : it.skip)(`wanda masks on the demo pair are the pinned bytes${demo ? '' : ' (skipped: weights/demo is missing)'}`, () => {
    expect(locate('demo-wanda', ['--score', 'wanda', '--blas', 'off'])).toEqual({
      'benign.safetensors': 'bb02514d485f2ab56ca3fd8410e31fc2dc64efa07bfa04ed19063606b67256dd',
      'en.safetensors': '3b1c4f47dee97442ff37cd7d653a131356143a11b0ec9b770f417ea5240c34fe',
      'es.safetensors': 'c17c16c9d6e6fdff3119f04a5a272f505c9bae26f89013acf449f958cab47962',
      'fr.safetensors': 'c8ddb133e3e3a08ee6dff867e65a44f382b3b01edb01db541fa67fad585c97bf',
      'intersection.safetensors': '39c647561dd781a6e7ff0668ddef24214d0daad7d8d79fbb23e1fe744614c090',
      'it.safetensors': 'e0959dcb347b664cbad281c8aac94a93fc01e55005748d7119f82c1289e9ccfe',
      'random.safetensors': 'f9a0524e82013006029cc2244d695e7c109ed353b9cfdb3ca886c4d4d446d7ed',
      'union.safetensors': 'a893c48e387d70a6d5bd60a34ecbb31aebd472ce8e0aae97024e837501f5cdab',
    });
  });

  it('sil scores from the golden gradients on the llama fixture give the pinned masks', () => {
    expect(locate('llama-sil', [...fx(LLAMA), '--grads', path.join(LLAMA, 'golden.safetensors'), '--langs', 'en'])).toEqual({
      'en.safetensors': '89c34c7bfee2321334703f2d3144743572215c76520efb5afcb7e38f755911c4',
      'intersection.safetensors': '43c84feff4fc18381a8e79fa35ac6c1fe4eb6914439cc1191953e83548f21439',
      'random.safetensors': 'cba064c9a91b2add0e56c0f1bbdbdbb82bda01a1613415e56f6a0199a4e478a8',
      'union.safetensors': '0c31e6fa9aa45f364212a371f0cfd5f07edbb0f5d3b3518cb92dac965628eff7',
    });
  });

  it('bitpacked sil masks over all parameters of the sharded qwen fixture at k = 0.05 are the pinned bytes', () => {
    expect(locate('qwen-all-bitpack', [...fx(QWEN), '--grads', path.join(QWEN, 'golden.safetensors'), '--langs', 'en,it', '--scope', 'all', '--k', '0.05', '--bitpack'])).toEqual({
      'en.safetensors': '3de599bf4c505b84bbf1bb997c0677ecb57c3ab8a99099ca06d881c8c9c61da3',
      'intersection.safetensors': '52f44ae2062c499115f192a45fc41357859c783a7cb490475a625016e5875d8b',
      'it.safetensors': 'efc6fa7b915ce8bc1e0705bf965c3530c06b2c6f4b469071f2e11500b13deade',
      'random.safetensors': '701ceda41a6f9c02fe679089244884f718232b01a79cbaf9a983a40a64ef3da1',
      'union.safetensors': '6a618f3da4e0ad3208922515c494c138e26df477337bda50606cfda54971e371',
    });
  });

  it('snip masks over all parameters of the llama fixture are the pinned bytes', () => {
    expect(locate('llama-snip', [...fx(LLAMA), '--grads', path.join(LLAMA, 'golden.safetensors'), '--langs', 'en', '--score', 'snip', '--scope', 'all'])).toEqual({
      'en.safetensors': 'c6ac286c575165afce5defbabb8627e893dbe04c2357844891fe570db23f0d2a',
      'intersection.safetensors': 'c75d00ad8def92de1708035d91a9b2792a88b75e3c2a41dbfea3a7313e000722',
      'random.safetensors': 'cebaf4b535836e0c724f889c9704e5b27e3c25dc4af478e250f49327f6350966',
      'union.safetensors': '8b15eb76e2c322245ce1aaa489bc5ebc1547f97a3dda8081cdd090f3fb040fe8',
    });
  });

  it('weightdiff masks for two languages without a benign set on the llama fixture are the pinned bytes', () => {
    expect(locate('llama-weightdiff', [...fx(LLAMA), '--score', 'weightdiff', '--scope', 'all', '--langs', 'en,it', '--no-benign'])).toEqual({
      'en.safetensors': 'a8f596b268a8a7657067185735326d521ec1b57af82fee5998d4d9b22b3a5587',
      'intersection.safetensors': '3da26e8052fecb81f4b27180e38db613f4852b079b00276c228ed1e8c2d1b6d0',
      'it.safetensors': '7e63bdd139703ffcec6dcd24b5f9411fedbe5dafd50a0258e0bc48b05800c11b',
      'random.safetensors': 'cebaf4b535836e0c724f889c9704e5b27e3c25dc4af478e250f49327f6350966',
      'union.safetensors': '7d00af7aa8d0e153f29f3aa8adb619a0ae9327934a1f5e731556c57b69f54c4b',
    });
  });

  it('per-row sil masks on the qwen fixture at k = 0.1 are the pinned bytes', () => {
    expect(locate('qwen-row', [...fx(QWEN), '--grads', path.join(QWEN, 'golden.safetensors'), '--langs', 'en', '--per', 'row', '--k', '0.1'])).toEqual({
      'en.safetensors': 'fac870a2b63aa55216f5730e01957c6fe02c36369d34c48ce0d6437fcd95d452',
      'intersection.safetensors': '1f01518fed830195d6874533ec916d0093476d7a0c6e9a7c10e5acba3947329b',
      'random.safetensors': '7f2437e1b8b0d71c7973e1861131a782b743c27bb6f97fe13f9d8a64b02f4b98',
      'union.safetensors': 'a00fa7ba2b97a554431594c23392697345b75bdde50c6d8870fae42dd0562245',
    });
  });

  it('per-tensor sil masks on the llama fixture are the pinned bytes', () => {
    expect(locate('llama-tensor', [...fx(LLAMA), '--grads', path.join(LLAMA, 'golden.safetensors'), '--langs', 'en', '--per', 'tensor'])).toEqual({
      'en.safetensors': 'a84e2d0f6774c7754eb84bdacd5dd8e272301a0ac7f68bb3480698a999329254',
      'intersection.safetensors': 'b6363a5726d95989b63b45ec20d072b785a7324a4f5acd4ce91ff3628ecb5faa',
      'random.safetensors': '87aad3debcfd709733a4e75ad05a66fde899300510f34b8437204514640af686',
      'union.safetensors': '42cf672eae5c8e850c149137cc7bb7565b450efb051d4ecb5c9c3b8dd9aa9a8b',
    });
  });
});
