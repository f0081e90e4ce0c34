/**
 * `sil locate`: per-language safety masks for a checkpoint pair (Poppi et al. 2025; Wei et al. 2024).
 *
 *   1. check every input (checkpoints, options, calibration data, tokenization, --grads files)
 *      before anything is written;
 *   2. per language (and the benign baseline): gradient sums at θpre over the calibration examples,
 *      cached as `cache/<set>.grads.safetensors` (`cache/<set>.<fields>.grads.safetensors` for fields
 *      other than `grad`, one file per field set) under a hash of everything they depend on, so an
 *      interrupted run resumes with the languages already done and runs with different scores in
 *      one folder keep each other's caches;
 *   3. scores streamed from the checkpoints and the cached sums, exact top-k selection, mask files;
 *      ∩ / ∪ over languages, a seeded random baseline, overlap, layers, regions, manifest, summary —
 *      all built in a temporary folder and moved into `--out` only when everything succeeded.
 *
 * The steps: prepare.ts (1), gradients.ts (2), write.ts and manifest.ts (3); this file runs them
 * and owns the output folder and every open file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withAtomicDir } from '../io/atomic';
import { Checkpoint } from '../io/checkpoint';
import { checkOutputPath, claimOutput, MARKER_FILE } from '../io/outpath';
import { keepOnInterrupt } from '../io/temp';
import { type Progress, SILENT } from '../progress';
import { setGradients } from './gradients';
import type { GradFile } from './gradfile';
import { buildManifest, type LocateManifest } from './manifest';
import type { LocateConfig } from './options';
import { prepare, runKey } from './prepare';
import { finishRunFolder, listFiles, openRunFolder } from './runfolder';
import { renderSummary } from './summary';
import { writeMasksAndTables } from './write';

function seconds(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Runs `sil locate` with resolved options; returns the manifest it wrote. */
export async function locate(cfg: LocateConfig, progress: Progress = SILENT, say: (note: string) => void = () => {}): Promise<LocateManifest> {
  const t0 = process.hrtime.bigint();
  const timings: Record<string, number> = {};
  const notes: string[] = [];
  const outPath = checkOutputPath({
    out: cfg.out,
    kind: 'dir',
    inputs: [cfg.base, cfg.attacked, cfg.grads, cfg.grads === null && cfg.data.path, cfg.benign?.path, cfg.responses.mode === 'generate' && cfg.responses.checkpoint],
  });
  const release = claimOutput(outPath, 'locate', [path.join(outPath, 'cache')]);
  let base: Checkpoint;
  try {
    base = Checkpoint.open(cfg.base);
  } catch (e) {
    release();
    throw e;
  }
  let attacked: Checkpoint | null = null;
  /** gradient files opened by the steps, closed here */
  const opened: GradFile[] = [];
  const outExisted = fs.existsSync(cfg.out);
  try {
    attacked = Checkpoint.open(cfg.attacked);
    const att = attacked;
    // 1. inputs, all checked before anything is written
    const tPrep = process.hrtime.bigint();
    const prep = await prepare(cfg, base, att, opened, notes);
    timings.prepare_s = seconds(tPrep);
    // every input is checked: decide about the folder (resume, or replace only with --force)
    const key = runKey(cfg, base, att, prep.sets);
    const folder = openRunFolder(cfg.out, key, cfg.force);
    if (folder.previous && Array.isArray(folder.previous.files) && folder.previous.files.length > 0) keepOnInterrupt(`the earlier results in ${cfg.out}, unchanged`);
    if (prep.needsForward && cfg.grads === null) {
      const cacheDir = path.join(cfg.out, 'cache');
      keepOnInterrupt(() => {
        let n = 0;
        try {
          n = fs.readdirSync(cacheDir).filter((f) => f.endsWith('.safetensors') && !f.startsWith('.tmp-')).length;
        } catch {
          n = 0;
        }
        return n ? `${n} finished ${cfg.score === 'wanda' ? 'activation' : 'gradient'} cache file(s) in ${cacheDir} (the same command resumes from them)` : null;
      });
    }
    // 2. gradient sums (or input norms) per set, cached
    const grads = await setGradients(cfg, base, att, prep, opened, timings, progress);
    // 3. masks, tables, manifest and summary, built atomically
    let written: string[] = [];
    const manifest = await withAtomicDir(cfg.out, async (tmp) => {
      const w = await writeMasksAndTables(tmp, cfg, base, att, prep, grads, timings, notes, progress);
      const tHash = process.hrtime.bigint();
      const baseSha = base.dataSha256();
      const attSha = att.dataSha256();
      timings.hash_s = seconds(tHash);
      timings.total_s = seconds(t0);
      const m = buildManifest({ cfg, base, att, baseSha, attSha, prep, backendInfo: grads.backend, calibration: grads.calibration, masks: w.masks, globalSir: w.globalSir, timings, notes });
      fs.writeFileSync(path.join(tmp, 'manifest.json'), JSON.stringify(m, null, 2) + '\n');
      fs.writeFileSync(path.join(tmp, 'summary.md'), renderSummary(m, w.overlap, w.regionRows, w.layerRows));
      written = listFiles(tmp);
      return m;
    });
    for (const n of finishRunFolder(cfg.out, folder, key, written)) {
      notes.push(n);
      say(n);
    }
    return manifest;
  } catch (e) {
    if (!outExisted && fs.existsSync(cfg.out) && isEmptyTree(cfg.out)) fs.rmSync(cfg.out, { recursive: true, force: true });
    throw e;
  } finally {
    for (const g of opened) g.close();
    base.close();
    attacked?.close();
    release();
  }
}

/** Nothing but empty folders (and the run folder's marker): what a failed first run leaves. */
function isEmptyTree(dir: string, top = true): boolean {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (top && e.name === MARKER_FILE) continue;
    if (!e.isDirectory() || !isEmptyTree(path.join(dir, e.name), false)) return false;
  }
  return true;
}
