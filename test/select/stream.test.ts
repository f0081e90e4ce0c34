import { selectMasks, type SourceTensor } from '../../src/select/stream';
import { referenceTopK } from '../../src/select/topk';
import { rowTopKMask, tensorTopKMask } from '../../src/select/local';
import { kOf } from '../../src/select/bits';

const tensors: Array<SourceTensor & { data: Float32Array }> = [
  { name: 'a', shape: [6, 7], numel: 42 },
  { name: 'b', shape: [9], numel: 9 },
  { name: 'c', shape: [5, 11], numel: 55 },
].map((t, ti) => ({ ...t, data: Float32Array.from({ length: t.numel }, (_, i) => ((i * 7 + ti * 3) % 5) / 4) }));

/** chunks of 4 elements, cutting rows */
const src = {
  tensors,
  *chunks(t: (typeof tensors)[number]) {
    for (let s = 0; s < t.numel; s += 4) yield t.data.slice(s, s + 4);
  },
};

function collect(per: 'global' | 'tensor' | 'row', frac: number) {
  const masks = new Map(tensors.map((t) => [t.name, new Uint8Array(t.numel).fill(9)]));
  const r = selectMasks(src, frac, per, (t, start, _s, m) => masks.get(t.name)!.set(m, start));
  return { r, masks: tensors.map((t) => masks.get(t.name)!) };
}

describe('selectMasks over a chunked source', () => {
  it('global: equals the reference top-k with the tie rule, in three traversals', () => {
    const { r, masks } = collect('global', 0.3);
    const k = kOf(0.3, 106);
    expect(r).toMatchObject({ n: 106, k, passes: 3 });
    expect(masks).toEqual(
      referenceTopK(
        tensors.map((t) => t.data),
        k,
      ).masks,
    );
  });

  it('tensor: equals per-tensor exact top-k', () => {
    const { masks } = collect('tensor', 0.3);
    expect(masks).toEqual(tensors.map((t) => tensorTopKMask(t.data, 0.3)));
  });

  it('row: equals per-row top-k even when chunks cut rows', () => {
    const { r, masks } = collect('row', 0.3);
    expect(masks).toEqual(tensors.map((t) => rowTopKMask(t.data, t.shape.length >= 2 ? t.numel / t.shape[0] : t.numel, 0.3)));
    expect(r.k).toBe(6 * 2 + 3 + 5 * 3);
  });
});
