import * as fs from 'node:fs';
import { Checkpoint } from '../../src/io/checkpoint';
import { describeTensor } from '../../src/families';
import { scoredTensors, totalOf, weightDiffChunks, pairScoreChunks } from '../../src/score/pair';
import { silScore, deltaOf } from '../../src/score/sil';
import { kOf } from '../../src/select/bits';
import { MaskEmitter, streamThreshold } from '../../src/select/topk';
import { RegionAccumulator, rankRegions, unitLayout } from '../../src/mask/regions';
import { tmpDir, writeTinyPair } from './tiny-pair';

/** rows changed in the attacked copy: gate neurons 3 and 7, embedding row 5 (token 5) */
const CHANGED: Record<string, number[]> = { 'model.layers.0.mlp.gate_proj.weight': [3, 7], 'model.embed_tokens.weight': [5] };

describe('known answer: a pair whose Δ lives on chosen rows', () => {
  const dir = tmpDir('known');
  const { base: bp, attacked: ap } = writeTinyPair(dir, (name, shape, v) => {
    for (const r of CHANGED[name] ?? []) for (let j = 0; j < shape[1]; j++) v[r * shape[1] + j] += (j + 1) / 64;
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  function select(score: 'weightdiff' | 'sil') {
    const base = Checkpoint.open(bp);
    const attacked = Checkpoint.open(ap);
    const tensors = scoredTensors(base, 'all');
    const n = totalOf(tensors);
    const k = kOf(24 / n, n); // exactly the 3 changed rows of 8
    const ones = (t: { numel: number }) => new Float32Array(t.numel).fill(0.5);
    const chunks = () =>
      score === 'weightdiff'
        ? weightDiffChunks(base, attacked, tensors, 20)
        : pairScoreChunks(base, attacked, tensors, (b, a, t, start) => silScore(deltaOf(b, a), ones(t).subarray(start, start + b.length)), 20);
    const { threshold } = streamThreshold(() => [...chunks()].map((c) => c.scores), k);
    const em = new MaskEmitter(threshold);
    const selectedRows = new Set<string>();
    const regions = new Map<string, RegionAccumulator>();
    for (const c of chunks()) {
      const m = em.emit(c.scores);
      const cols = c.tensor.shape[1] ?? c.tensor.numel;
      m.forEach((v, i) => v && selectedRows.add(`${c.tensor.name}#${Math.floor((c.start + i) / cols)}`));
      let acc = regions.get(c.tensor.name);
      if (!acc) regions.set(c.tensor.name, (acc = new RegionAccumulator(unitLayout(describeTensor(base.architecture, c.tensor.name), c.tensor.shape, 4), c.tensor.shape)));
      acc.add(c.start, c.scores, m);
    }
    base.close();
    attacked.close();
    const ranked = rankRegions(
      'en',
      [...regions].map(([tensor, acc]) => ({ tensor, layer: null, kind: '', acc })),
      3,
    );
    return { k, count: em.count, selectedRows, ranked };
  }

  it.each(['weightdiff', 'sil'] as const)('%s selects exactly the changed rows at k = their size, and ranks them as the top regions', (score) => {
    const { k, count, selectedRows, ranked } = select(score);
    expect(k).toBe(24);
    expect(count).toBe(24);
    expect([...selectedRows].sort()).toEqual(['model.embed_tokens.weight#5', 'model.layers.0.mlp.gate_proj.weight#3', 'model.layers.0.mlp.gate_proj.weight#7']);
    expect(ranked.map((r) => `${r.tensor}#${r.unit}${r.index}:${r.selected_share}`).sort()).toEqual([
      'model.embed_tokens.weight#row5:1',
      'model.layers.0.mlp.gate_proj.weight#neuron3:1',
      'model.layers.0.mlp.gate_proj.weight#neuron7:1',
    ]);
  });
});
