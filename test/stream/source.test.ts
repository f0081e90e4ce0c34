import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Checkpoint } from '../../src/io/checkpoint';
import { SafetensorsFile } from '../../src/io/safetensors';
import { accumulateToFile } from '../../src/locate/accumulate';
import { useBackend } from '../../src/model/backend';
import { parseModelConfig } from '../../src/model/config';
import { CausalLM } from '../../src/model/model';
import { streamSteps } from '../../src/stream/engine';
import { openStreamedSource } from '../../src/stream/source';
import { compareTensors, goldenDirs, loadGolden } from '../model/parity-helpers';

it('the streamed gradient source gives the gradient of the summed loss as whole tensors, equal to the in-memory mean gradient times the labelled positions', async () => {
  await useBackend('wasm');
  const g = loadGolden(goldenDirs().shared[1] ?? goldenDirs().shared[0]);
  g.tensors.close();
  const ckpt = Checkpoint.open(g.model);
  const model = CausalLM.fromCheckpoint(ckpt);
  try {
    const want = model.lossAndGrads(g.json);
    const config = parseModelConfig(ckpt.config, g.model);
    const src = await openStreamedSource({ modelDir: g.model, checkpoint: ckpt, config, backend: 'wasm', threads: 1, perExample: false });
    const got = new Map<string, Float32Array>();
    const r = await src.gradients(g.json, (n, grad) => {
      expect(got.has(n)).toBe(false);
      got.set(n, grad);
    });
    await src.close();
    expect(src.kind).toBe('streamed');
    expect(r.tokens).toBe(want.count);
    expect(Math.abs(r.loss - want.loss * want.count) / (want.loss * want.count)).toBeLessThan(1e-6);
    const pairs = [...want.grads].map(([name, w]) => ({ name, got: got.get(name)!, want: w.map((x) => x * want.count) }));
    const cmp = compareTensors(pairs, 1e-5, 'relL2');
    if (cmp.failed.length > 0) throw new Error(cmp.report);
    expect(got.size).toBe(want.grads.size);
  } finally {
    model.dispose();
    ckpt.close();
  }
});

describe('sums kept on the backend across passes', () => {
  const env = process.env.SIL_DEVICE_MEMORY;
  afterEach(() => {
    if (env === undefined) delete process.env.SIL_DEVICE_MEMORY;
    else process.env.SIL_DEVICE_MEMORY = env;
  });

  type F = 'grad' | 'absgrad';
  const cases: Array<[F[], number]> = [
    [['grad'], 0],
    [['absgrad'], 1],
    [['grad', 'absgrad'], 0],
    [['grad', 'absgrad'], 1],
  ];
  it.each(cases)('equal the per-pass gradients summed on the host, with the weights uploaded once (fields %j, fixture %i: untied and tied embeddings)', async (fields, fixture) => {
    await useBackend('cpu');
    const g = loadGolden(goldenDirs().shared[fixture]);
    g.tensors.close();
    const ckpt = Checkpoint.open(g.model);
    const config = parseModelConfig(ckpt.config, g.model);
    // one unit per example, as per-example accumulation runs
    const units = g.json.input_ids.map((_, i) => ({ input_ids: [g.json.input_ids[i]], attention_mask: g.json.attention_mask ? [g.json.attention_mask[i]] : undefined, labels: [g.json.labels[i]] }));
    try {
      delete process.env.SIL_DEVICE_MEMORY; // cpu: budget 0, nothing kept
      const plain = await openStreamedSource({ modelDir: g.model, checkpoint: ckpt, config, backend: 'cpu', threads: 1, perExample: true });
      expect(plain.canSum!(units, fields)).toBe(false);
      const want = new Map<string, Float64Array>();
      let wantLoss = 0;
      for (const u of units) {
        const r = await plain.gradients(u, (n, grad) => {
          for (const f of fields) {
            const key = `${f}/${n}`;
            let s = want.get(key);
            if (!s) want.set(key, (s = new Float64Array(grad.length)));
            for (let i = 0; i < grad.length; i++) s[i] += f === 'grad' ? grad[i] : Math.abs(grad[i]);
          }
        });
        wantLoss += r.loss;
      }
      await plain.close();

      process.env.SIL_DEVICE_MEMORY = '1GB';
      const kept = await openStreamedSource({ modelDir: g.model, checkpoint: ckpt, config, backend: 'cpu', threads: 1, perExample: true });
      expect(kept.canSum!(units, fields)).toBe(true);
      const got = new Map<string, Float32Array>();
      const order: string[] = [];
      let loss = 0;
      let examples = 0;
      await kept.sums!(
        units,
        fields,
        (r, n) => {
          loss += r.loss;
          examples += n;
        },
        (f, name, start, data) => {
          const key = `${f}/${name}`;
          if (!got.has(key)) {
            got.set(key, new Float32Array(want.get(key)!.length));
            order.push(name);
          }
          got.get(key)!.set(data, start);
        },
      );
      await kept.close();
      expect(examples).toBe(units.length);
      expect(Math.abs(loss - wantLoss) / wantLoss).toBeLessThan(1e-6);
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
      // handed over in the checkpoint's tensor order
      const stored = ckpt.names().filter((n) => order.includes(n));
      expect([...new Set(order)]).toEqual(stored);
      const cmp = compareTensors(
        [...want].map(([name, w]) => ({ name, got: got.get(name)!, want: Float32Array.from(w) })),
        1e-5,
        'relL2',
      );
      if (cmp.failed.length > 0) throw new Error(cmp.report);
    } finally {
      ckpt.close();
    }
  });
});

it('sums streamed gradients into the cache file as they arrive, with progress counted in layer steps', async () => {
  await useBackend('wasm');
  const g = loadGolden(goldenDirs().shared[0]);
  g.tensors.close();
  const ckpt = Checkpoint.open(g.model);
  const model = CausalLM.fromCheckpoint(ckpt);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-acc-'));
  try {
    const want = model.lossAndGrads(g.json);
    const config = parseModelConfig(ckpt.config, g.model);
    const src = await openStreamedSource({ modelDir: g.model, checkpoint: ckpt, config, backend: 'wasm', threads: 1, perExample: false });
    const names = [...want.grads.keys()];
    const calls: string[] = [];
    let ticks = 0;
    const progress = { start: (total: number, label: string) => calls.push(`${label}: ${total}`), tick: (n = 1) => (ticks += n), stop: () => calls.push('stop') };
    const file = path.join(dir, 'en.grads.safetensors');
    // the batch twice: two units of the same gradient
    const r = await accumulateToFile(src, [g.json, g.json], ['grad'], names, ckpt, ckpt, file, { label: 'en' }, progress);
    await src.close();
    const steps = streamSteps(config);
    expect(calls).toEqual([`en (layer steps): ${2 * steps}`, 'stop']);
    expect(ticks).toBe(2 * steps);
    expect(r.examples).toBe(2 * g.json.input_ids.length);
    const f = SafetensorsFile.open(file);
    try {
      const pairs = names.map((name) => ({ name, got: f.readF32(`grad/${name}`), want: want.grads.get(name)!.map((x) => 2 * x * want.count) }));
      const cmp = compareTensors(pairs, 1e-5, 'relL2');
      if (cmp.failed.length > 0) throw new Error(cmp.report);
    } finally {
      f.close();
    }
  } finally {
    model.dispose();
    ckpt.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
