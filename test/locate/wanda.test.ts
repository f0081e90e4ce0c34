/**
 * Wanda for sil locate: the layer inputs captured by one layer-streamed forward pass against a
 * plain-JS reference forward (loops over Float32Arrays, one unpadded example at a time), and
 * `sil locate --score wanda` end to end on weights/tiny.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Checkpoint } from '../../src/io/checkpoint';
import { MaskFile } from '../../src/mask/maskfile';
import { useBackend } from '../../src/model/backend';
import type { Batch } from '../../src/model/batch';
import { type ModelConfig, parseModelConfig } from '../../src/model/config';
import { linearInputSquares } from '../../src/model/inputs';
import { CausalLM } from '../../src/model/model';
import { EMBED, FINAL_NORM, inputNorm, type LAYER_LINEARS, LM_HEAD, linearWeight, postAttentionNorm } from '../../src/model/names';
import { ropeTables } from '../../src/model/rope';
import { wandaScore } from '../../src/score/wanda';
import { SafetensorsFile } from '../../src/io/safetensors';
import { copyWithTokenizer, pairArgs, REPO, sil } from './helpers';

const TINY = path.join(REPO, 'weights/tiny');

// ---- plain-JS reference forward --------------------------------------------------------------

function matvec(w: Float32Array, rows: number, cols: number, x: Float64Array): Float64Array {
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += w[r * cols + c] * x[c];
    y[r] = s;
  }
  return y;
}

function rms(x: Float64Array, w: Float32Array, eps: number): Float64Array {
  let ms = 0;
  for (const v of x) ms += v * v;
  const inv = 1 / Math.sqrt(ms / x.length + eps);
  return x.map((v, j) => w[j] * v * inv);
}

/** Per position: the input of each linear weight (by name) and the logits, for one unpadded sequence. */
function referenceForward(cfg: ModelConfig, ck: Checkpoint, ids: number[]): { inputs: Map<string, Float64Array[]>; logits: Float64Array[] } {
  const { hiddenSize: H, intermediateSize: F, numHeads: nh, numKvHeads: nkv, headDim: D, vocabSize: V, numLayers: L, rmsNormEps: eps } = cfg;
  const T = ids.length;
  const E = ck.readF32(EMBED);
  let h = ids.map((id) => Float64Array.from(E.subarray(id * H, (id + 1) * H)));
  const { cos, sin } = ropeTables(cfg.rope, D, T);
  const rope = (x: Float64Array, t: number, heads: number) => {
    const out = new Float64Array(x.length);
    for (let hh = 0; hh < heads; hh++) {
      for (let j = 0; j < D / 2; j++) {
        const a = x[hh * D + j];
        const b = x[hh * D + j + D / 2];
        out[hh * D + j] = a * cos[t * D + j] - b * sin[t * D + j];
        out[hh * D + j + D / 2] = b * cos[t * D + j + D / 2] + a * sin[t * D + j + D / 2];
      }
    }
    return out;
  };
  const inputs = new Map<string, Float64Array[]>();
  const record = (name: string, x: Float64Array[]) => inputs.set(name, x);
  for (let i = 0; i < L; i++) {
    const W = (l: (typeof LAYER_LINEARS)[number]) => ck.readF32(linearWeight(i, l));
    const x = h.map((v) => rms(v, ck.readF32(inputNorm(i)), eps));
    const q = x.map((v, t) => rope(matvec(W('q'), nh * D, H, v), t, nh));
    const k = x.map((v, t) => rope(matvec(W('k'), nkv * D, H, v), t, nkv));
    const v = x.map((u) => matvec(W('v'), nkv * D, H, u));
    const merged = q.map((qt, t) => {
      const out = new Float64Array(nh * D);
      for (let hh = 0; hh < nh; hh++) {
        const kv = Math.floor(hh / (nh / nkv));
        const s = Array.from({ length: t + 1 }, (_, u) => {
          let d = 0;
          for (let j = 0; j < D; j++) d += qt[hh * D + j] * k[u][kv * D + j];
          return d / Math.sqrt(D);
        });
        const mx = Math.max(...s);
        const e = s.map((z) => Math.exp(z - mx));
        const z = e.reduce((a, b) => a + b, 0);
        for (let u = 0; u <= t; u++) for (let j = 0; j < D; j++) out[hh * D + j] += (e[u] / z) * v[u][kv * D + j];
      }
      return out;
    });
    const h1 = h.map((ht, t) => ht.map((y, j) => y + matvec(W('o'), H, nh * D, merged[t])[j]));
    const x2 = h1.map((u) => rms(u, ck.readF32(postAttentionNorm(i)), eps));
    const m = x2.map((u) => {
      const g = matvec(W('gate'), F, H, u);
      const up = matvec(W('up'), F, H, u);
      return g.map((z, j) => (z / (1 + Math.exp(-z))) * up[j]);
    });
    h = h1.map((u, t) => {
      const d = matvec(W('down'), H, F, m[t]);
      return u.map((y, j) => y + d[j]);
    });
    for (const l of ['q', 'k', 'v'] as const) record(linearWeight(i, l), x);
    record(linearWeight(i, 'o'), merged);
    record(linearWeight(i, 'gate'), x2);
    record(linearWeight(i, 'up'), x2);
    record(linearWeight(i, 'down'), m);
  }
  const xf = h.map((u) => rms(u, ck.readF32(FINAL_NORM), eps));
  record(cfg.tieWordEmbeddings ? EMBED : LM_HEAD, xf);
  const head = ck.readF32(cfg.tieWordEmbeddings ? EMBED : LM_HEAD);
  return { inputs, logits: xf.map((u) => matvec(head, V, H, u)) };
}

// ---- tests -----------------------------------------------------------------------------------

describe('layer inputs for wanda', () => {
  let ck: Checkpoint;
  let cfg: ModelConfig;
  beforeAll(async () => {
    await useBackend('cpu');
    ck = Checkpoint.open(path.join(TINY, 'base'));
    cfg = parseModelConfig(ck.config, 'weights/tiny/base/config.json');
  });
  afterAll(() => ck.close());

  // two examples of different lengths, right-padded; labels only on the responses
  const a = { ids: [1, 72, 105, 33, 60, 98, 121, 101, 2], prompt: 5 };
  const b = { ids: [1, 87, 104, 111, 63, 78, 2], prompt: 4 };
  const T = a.ids.length;
  const row = (e: typeof a) => ({
    ids: [...e.ids, ...Array(T - e.ids.length).fill(0)],
    mask: [...e.ids.map(() => 1), ...Array(T - e.ids.length).fill(0)],
    labels: [...e.ids.map((id, t) => (t < e.prompt ? -100 : id)), ...Array(T - e.ids.length).fill(-100)],
  });
  const batch: Batch = { input_ids: [row(a).ids, row(b).ids], attention_mask: [row(a).mask, row(b).mask], labels: [row(a).labels, row(b).labels] };

  it('the plain-JS reference forward reproduces the runtime logits (so it can judge the captured inputs)', () => {
    const m = CausalLM.fromCheckpoint(ck);
    try {
      const logits = m.logits({ input_ids: [a.ids], labels: [a.ids] });
      const ref = referenceForward(cfg, ck, a.ids).logits;
      let maxdiff = 0;
      ref.forEach((r, t) => r.forEach((v, j) => (maxdiff = Math.max(maxdiff, Math.abs(v - logits[t * cfg.vocabSize + j])))));
      expect(maxdiff).toBeLessThan(1e-4);
    } finally {
      m.dispose();
    }
  });

  it('sums squared inputs of every linear layer over the positions that predict a response token, skipping prompt-only positions and padding', async () => {
    const before = tf.memory().numTensors;
    const got = await linearInputSquares(cfg, ck, [batch]);
    expect(tf.memory().numTensors).toBe(before);
    // position t is counted when labels[t+1] ≠ −100: a.prompt−1 … len−2
    const taken = (e: typeof a) => Array.from({ length: e.ids.length - e.prompt }, (_, i) => e.prompt - 1 + i);
    expect(got.tokens).toBe(taken(a).length + taken(b).length);
    expect(got.examples).toBe(2);
    const ra = referenceForward(cfg, ck, a.ids).inputs;
    const rb = referenceForward(cfg, ck, b.ids).inputs;
    const names = [...ra.keys()];
    expect([...got.sums.keys()].sort()).toEqual([...names].sort());
    expect(names).toHaveLength(cfg.numLayers * 7 + 1);
    for (const name of names) {
      const cols = ra.get(name)![0].length;
      const want = new Float64Array(cols);
      for (const [ref, e] of [
        [ra, a],
        [rb, b],
      ] as const)
        for (const t of taken(e)) ref.get(name)![t].forEach((v, j) => (want[j] += v * v));
      const have = got.sums.get(name)!;
      let maxrel = 0;
      for (let j = 0; j < cols; j++) maxrel = Math.max(maxrel, Math.abs(have[j] - want[j]) / Math.max(1e-6, want[j]));
      expect({ name, ok: maxrel < 1e-4 }).toEqual({ name, ok: true });
      // wanda: |W_ij| · ‖X_j‖₂
      const w = ck.readF32(name);
      const s = wandaScore(w, Float32Array.from(have, Math.sqrt));
      const i = w.length - 1;
      expect(s[i]).toBeCloseTo(Math.abs(w[i]) * Math.sqrt(want[cols - 1]), 5);
    }
  });
});

describe('sil locate --score wanda', () => {
  let tmp: string;
  let base: string;
  let attacked: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-wanda-'));
    base = copyWithTokenizer(path.join(TINY, 'base'), path.join(tmp, 'base'));
    attacked = copyWithTokenizer(path.join(TINY, 'attacked'), path.join(tmp, 'attacked'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('selects the global top-k of |W|·‖X_j‖₂ from one forward pass, caches the norms and resumes from them', () => {
    const out = path.join(tmp, 'run');
    const args = ['locate', ...pairArgs({ base, attacked }), '--score', 'wanda', '--langs', 'en', '--max-examples', '2', '--max-length', '128', '--no-benign', '--out', out, '--json'];
    const r = sil(...args);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const m = JSON.parse(r.stdout);
    expect(m.options.score).toBe('wanda');
    expect(m.calibration.en).toMatchObject({ examples: 2, gradients: 'none', activations: 'computed' });
    expect(m.calibration.en.tokens).toBeGreaterThan(0);
    expect(m.backend).toMatchObject({ source: 'forward' });
    const k = Math.round(0.2 * m.n_in_scope);
    expect(m.masks.en.selected).toBe(k);

    // an independent selection: sort every in-scope score, take the k largest
    const ck = Checkpoint.open(base);
    const cache = SafetensorsFile.open(path.join(out, 'cache/en.inputs.safetensors'));
    const mask = MaskFile.open(path.join(out, 'masks/en.safetensors'));
    const scored: Array<{ name: string; s: Float32Array }> = [];
    for (const n of ck.names()) if (cache.tensors.has(`norm/${n}`) && /_proj\.weight$/.test(n)) scored.push({ name: n, s: wandaScore(ck.readF32(n), cache.readF32(`norm/${n}`)) });
    expect(scored).toHaveLength(2 * 7);
    const all = Float32Array.from(scored.flatMap((x) => [...x.s])).sort();
    const threshold = all[all.length - k];
    expect(all[all.length - k - 1]).toBeLessThan(threshold); // no tie at the boundary
    for (const { name, s } of scored) {
      const got = mask.read(name);
      let wrong = 0;
      for (let i = 0; i < s.length; i++) if (got[i] !== (s[i] >= threshold ? 1 : 0)) wrong++;
      expect({ name, wrong }).toEqual({ name, wrong: 0 });
    }
    mask.close();
    cache.close();
    ck.close();

    const before = fs.readFileSync(path.join(out, 'masks/en.safetensors'));
    const again = sil(...args);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).calibration.en.activations).toBe('cached');
    expect(fs.readFileSync(path.join(out, 'masks/en.safetensors')).equals(before)).toBe(true);
  });
});
