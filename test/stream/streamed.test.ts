/**
 * Layer-streamed gradients against the PyTorch goldens and against the all-in-memory runtime, on
 * every backend available here (webgpu and tensorflow skip visibly without a GPU / the package).
 * Vocabulary chunks are forced small (and uneven) so the chunked head and embedding are exercised.
 */
import * as tf from '@tensorflow/tfjs';
import { Checkpoint } from '../../src/io/checkpoint';
import { setCudaOptions } from '../../src/cuda';
import { useBackend } from '../../src/model/backend';
import { parseModelConfig } from '../../src/model/config';
import { CausalLM } from '../../src/model/model';
import { paramShape } from '../../src/model/names';
import { streamedGradients, type StreamOptions, streamSteps, wholeTensors } from '../../src/stream/engine';
import { backendSkipReason, compareTensors, goldenDirs, loadGolden } from '../model/parity-helpers';

const LOSS_REL = 1e-5;
const GRAD_REL_L2 = 1e-3;

const { shared, local } = goldenDirs();
const dirs = [...shared, ...local];

async function streamed(dir: string, o: StreamOptions) {
  const ckpt = Checkpoint.open(dir);
  const cfg = parseModelConfig(ckpt.config, dir);
  const grads = new Map<string, Float32Array>();
  const pieces = new Map<string, number>();
  const size = (n: string) => paramShape(cfg, n).reduce((a, b) => a * b, 1);
  const assemble = wholeTensors(size, (n, g) => {
    grads.set(n, g);
  });
  try {
    const g = loadGolden(dir.replace(/\/base$/, ''));
    g.tensors.close();
    const r = await streamedGradients(
      cfg,
      ckpt,
      g.json,
      (n, start, data) => {
        pieces.set(n, (pieces.get(n) ?? 0) + 1);
        return assemble(n, start, data);
      },
      o,
    );
    return { ...r, grads, pieces, cfg };
  } finally {
    ckpt.close();
  }
}

describe.each(['cpu', 'wasm', 'webgpu', 'tensorflow', 'cuda'] as const)('streamed gradients on the %s backend', (backend) => {
  const skip = backendSkipReason(backend);
  if (skip) {
    it.skip(`match the goldens (skipped: ${backend} unavailable here: ${skip})`, () => undefined);
    return;
  }
  beforeAll(async () => {
    if (backend === 'cuda') setCudaOptions({ precision: 'f32' });
    await useBackend(backend);
  });

  describe.each(dirs.map((d) => [d.split('/').pop()!, d]))('%s', (_name, dir) => {
    it('matches the golden loss and every golden parameter gradient, with the head and embedding in uneven vocabulary chunks', async () => {
      const g = loadGolden(dir);
      try {
        let steps = 0;
        const r = await streamed(g.model, { vocabChunk: 37, boundaries: backend === 'webgpu' || backend === 'cuda' ? 'device' : 'host', onStep: () => steps++ });
        expect(steps).toBe(streamSteps(r.cfg)); // every layer forward and backward, the head, the embedding
        const pairs = [...r.grads].map(([name, got]) => ({ name: `grad/${name}`, got, want: g.tensors.readF32(`grad/${name}`) }));
        const gr = compareTensors(pairs, GRAD_REL_L2, 'relL2');
        const lossRel = Math.abs(r.loss - g.json.loss) / Math.abs(g.json.loss);
        const report = `${g.name} streamed on ${backend}:\nloss ${r.loss} vs ${g.json.loss} (rel ${lossRel.toExponential(3)})\n${gr.report}`;
        if (gr.failed.length > 0 || !(lossRel <= LOSS_REL)) throw new Error(report);
        const stored = [...g.tensors.tensors.keys()]
          .filter((k) => k.startsWith('grad/'))
          .map((k) => k.slice(5))
          .sort();
        expect([...r.grads.keys()].sort()).toEqual(stored);
        expect(r.plan.vocabChunks).toBe(Math.ceil(r.cfg.vocabSize / 37));
        expect(r.pieces.get('model.embed_tokens.weight')).toBe(r.plan.vocabChunks);
      } finally {
        g.tensors.close();
      }
    });

    // on wasm only: the in-memory runtime's own parity runs everywhere in test/model, and the cpu backend is slow
    (backend === 'wasm' ? it : it.skip)(
      'equals the all-in-memory gradients, whether boundaries stay on the host or the backend, whether weights stay cached and whether layers take the batch in groups of sequences',
      async () => {
        const g = loadGolden(dir);
        const ckpt = Checkpoint.open(g.model);
        const model = CausalLM.fromCheckpoint(ckpt);
        let want: Map<string, Float32Array>;
        let wantLoss: number;
        try {
          const r = model.lossAndGrads(g.json);
          want = r.grads;
          wantLoss = r.loss;
        } finally {
          model.dispose();
          ckpt.close();
          g.tensors.close();
        }
        const options: StreamOptions[] = [
          { boundaries: 'device', weightCacheBytes: 1e12 },
          { boundaries: 'host', vocabChunk: 1000 },
          // groups summed on the host, and on the backend (device boundaries; groups of 2 and 1 on the 3-sequence batch)
          { boundaries: 'host', sequencesPerGroup: 1, vocabChunk: 37 },
          { boundaries: 'device', sequencesPerGroup: 2, vocabChunk: 37 },
        ];
        for (const o of options) {
          const r = await streamed(g.model, o);
          if (o.sequencesPerGroup) expect(r.plan.groups).toBe(Math.ceil(g.json.input_ids.length / o.sequencesPerGroup));
          const gr = compareTensors(
            [...want].map(([name, w]) => ({ name, got: r.grads.get(name)!, want: w })),
            1e-5,
            'relL2',
          );
          if (gr.failed.length > 0) throw new Error(`${g.name} ${JSON.stringify(o)}:\n${gr.report}`);
          expect(Math.abs(r.loss - wantLoss) / wantLoss).toBeLessThan(1e-6);
        }
      },
    );
  });

  (backend === 'wasm' ? it : it.skip)('times every stage of a profiled pass and gives the same loss and gradients as an unprofiled one', async () => {
    const dir = loadGolden(shared[0]);
    dir.tensors.close();
    const o: StreamOptions = { vocabChunk: 64, boundaries: 'host', sequencesPerGroup: 1 };
    const plain = await streamed(dir.model, o);
    const profile: Record<string, number> = {};
    const timed = await streamed(dir.model, { ...o, profile });
    expect(Object.keys(profile).sort()).toEqual(['drain', 'embedding', 'forward', 'head', 'read', 'sink', 'upload', 'vjp']);
    for (const v of Object.values(profile)) expect(v).toBeGreaterThan(0);
    expect(timed.loss).toBe(plain.loss);
    expect([...timed.grads.keys()]).toEqual([...plain.grads.keys()]);
    for (const [n, g] of plain.grads) expect(timed.grads.get(n)).toEqual(g);
  });

  it('keeps the number of live tensors constant across streamed passes', async () => {
    const dir = loadGolden(shared[0]);
    dir.tensors.close();
    await streamed(dir.model, { vocabChunk: 64 });
    const before = tf.memory().numTensors;
    await streamed(dir.model, { vocabChunk: 64, weightCacheBytes: 1e12, boundaries: 'device' });
    expect(tf.memory().numTensors).toBe(before);
  });
});
