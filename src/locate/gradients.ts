/**
 * The second step of `sil locate`: per calibration set, the gradient sums at θpre (or, for wanda,
 * the layer-input norms), taken from the set's cache file when its key matches and computed into
 * it otherwise. The gradient source (in memory or layer-streamed, `openGradientSource`) is opened
 * on the first set that needs computing and closed when the sets are done.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Checkpoint } from '../io/checkpoint';
import { type SelectedBackend, useBackend } from '../model/backend';
import { allParamNames } from '../model/names';
import type { Progress } from '../progress';
import { accumulateToFile } from './accumulate';
import { inputNormsToFile, readCachedInputNorms } from './activations';
import { GradFile } from './gradfile';
import type { LocateManifest, SetReport } from './manifest';
import type { LocateConfig } from './options';
import { type CalibrationSet, longestSequence, modelConfigOf, type Prepared } from './prepare';
import { type GradientPlan, type GradientSource, openGradientSource } from './source';

export interface SetGradients {
  /** per set: what was computed or cached */
  calibration: Record<string, SetReport>;
  /** the gradient sums per set (open; the caller closes them through `opened`) */
  bySet: Map<string, GradFile>;
  /** wanda's input norms per set */
  normsBySet: Map<string, Map<string, Float32Array>>;
  /** the backend the sets were computed on (null when everything came from caches or files) */
  backend: LocateManifest['backend'];
}

function seconds(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** The cache file when it exists and was computed from the same inputs (its metadata key), else null. */
function openCached(file: string, key: string): GradFile | null {
  if (!fs.existsSync(file)) return null;
  let g: GradFile;
  try {
    g = GradFile.open(file);
  } catch {
    return null; // unreadable (e.g. from an older format): recompute
  }
  if (g.metadata.key === key) return g;
  g.close();
  return null;
}

/** Wanda's layer-input norms of set `s`, from its cache file or computed into it. */
async function inputNormsOfSet(
  cfg: LocateConfig,
  base: Checkpoint,
  s: CalibrationSet,
  backend: () => Promise<void>,
  progress: Progress,
): Promise<{ norms: Map<string, Float32Array>; report: SetReport }> {
  const ts = process.hrtime.bigint();
  const file = path.join(cfg.out, 'cache', `${s.name}.inputs.safetensors`);
  let got = readCachedInputNorms(file, s.key);
  let status: 'computed' | 'cached' = 'cached';
  if (!got) {
    await backend();
    got = await inputNormsToFile(modelConfigOf(base, true)!, base, s.batches, file, { key: s.key, set: s.name, label: `activations ${s.name}` }, progress);
    status = 'computed';
  }
  return { norms: got.norms, report: { examples: got.examples, tokens: got.tokens, mean_loss: null, gradients: 'none', activations: status, seconds: seconds(ts) } };
}

/**
 * The gradient sums (or input norms) of every set of `prep`. Files opened here are added to
 * `opened` (the caller closes them); `timings` gets each set's seconds.
 */
export async function setGradients(
  cfg: LocateConfig,
  base: Checkpoint,
  att: Checkpoint,
  prep: Prepared,
  opened: GradFile[],
  timings: Record<string, number>,
  progress: Progress,
): Promise<SetGradients> {
  const { sets, fields } = prep;
  const calibration: Record<string, SetReport> = {};
  const bySet = new Map<string, GradFile>();
  const normsBySet = new Map<string, Map<string, Float32Array>>();
  let forwardBackend: SelectedBackend | null = null;
  let source: GradientSource | null = null;
  let plan: GradientPlan | null = null;
  try {
    for (const s of sets) {
      const ts = process.hrtime.bigint();
      if (cfg.score === 'wanda') {
        const r = await inputNormsOfSet(cfg, base, s, async () => void (forwardBackend ??= await useBackend(cfg.backend, { blas: cfg.blas })), progress);
        normsBySet.set(s.name, r.norms);
        calibration[s.name] = r.report;
        timings[`activations_${s.name}_s`] = seconds(ts);
        continue;
      }
      if (s.gradFile) {
        bySet.set(s.name, s.gradFile);
        calibration[s.name] = { examples: null, tokens: null, mean_loss: null, gradients: 'file', seconds: 0 };
        continue;
      }
      let status: SetReport['gradients'] = 'cached';
      let summed: SetReport['sums'];
      let g = openCached(s.gradPath, s.key);
      if (!g) {
        if (!source) {
          const mcfg = modelConfigOf(base, true)!;
          const o = await openGradientSource({
            modelDir: cfg.base,
            checkpoint: base,
            config: mcfg,
            backend: cfg.backend,
            blas: cfg.blas,
            threads: cfg.threads,
            perExample: fields.some((f) => f !== 'grad'),
            stream: cfg.stream,
            maxSeqLen: longestSequence(sets),
          });
          source = o.source;
          plan = o.plan;
        }
        fs.mkdirSync(path.dirname(s.gradPath), { recursive: true });
        const params = new Set(allParamNames(modelConfigOf(base, true)!));
        const names = base.names().filter((n) => params.has(n));
        const acc = await accumulateToFile(source, s.batches, fields, names, base, att, s.gradPath, { key: s.key, set: s.name, label: `gradients ${s.name}` }, progress);
        summed = acc.summedBySource ? 'backend' : 'file';
        status = 'computed';
        g = openCached(s.gradPath, s.key)!;
      }
      opened.push(g);
      bySet.set(s.name, g);
      const meta = g.metadata;
      const tokens = Number(meta.tokens);
      calibration[s.name] = {
        examples: Number(meta.examples),
        tokens,
        mean_loss: tokens > 0 ? Number(meta.loss_sum) / tokens : null,
        gradients: status,
        ...(summed ? { sums: summed } : {}),
        seconds: seconds(ts),
      };
      timings[`gradients_${s.name}_s`] = seconds(ts);
    }
    const fb = forwardBackend as SelectedBackend | null;
    const backend: LocateManifest['backend'] = fb
      ? {
          name: fb.name,
          note: fb.note,
          matmul: fb.matmul,
          matmul_note: fb.matmulNote,
          source: 'forward',
          workers: 1,
          plan: 'one forward pass at θpre, one decoder layer at a time (layer inputs for wanda)',
        }
      : source
        ? (({ backend: b, kind, workers }) => ({ name: b.name, note: b.note, matmul: b.matmul, matmul_note: b.matmulNote, source: kind, workers, plan: plan!.why }))(source as GradientSource)
        : null;
    if (!prep.needsForward) for (const l of prep.langs) calibration[l] = { examples: null, tokens: null, mean_loss: null, gradients: 'none', seconds: 0 };
    return { calibration, bySet, normsBySet, backend };
  } finally {
    if (source) await (source as GradientSource).close();
  }
}
