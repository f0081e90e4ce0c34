/**
 * Gradient accumulation over a language's calibration examples, written as one cache file
 * (`cache/<lang>.grads.safetensors`, or `cache/<lang>.<fields>.grads.safetensors` for fields other
 * than `grad`; fields and names in gradfile.ts) with the inputs' hash in its metadata.
 *
 * - `grad` only (sil with reduce sum): examples go through the source in batches; the batch sums
 *   add up to Σₓ ∇L(x).
 * - `absgrad` / `silabs` (snip; sil with reduce mean-abs) need each example's own gradient: one
 *   example per call, `source.parallel` calls at a time, folded in example order. Since
 *   |Δ ⊙ ∇L(x)| = |Δ| ⊙ |∇L(x)|, `silabs` is (1/n)·|Δ| ⊙ Σₓ |∇L(x)|, scaled once at the end.
 *
 * The sums are built in the output file itself (float32, `SafetensorsWriter.addAt`). A source that
 * runs one unit at a time (the layer-streamed one) has each tensor's gradient added as it arrives, so
 * a model of any size accumulates in little RAM; parallel workers (in-memory models) hand over a
 * round's gradients, folded in unit order once the round is done. A source that
 * keeps the sums itself (`canSum`/`sums`: on the GPU) hands each sum over once instead. Sums are
 * added in a fixed order, so the same inputs give the same bytes. The counts (examples, tokens,
 * loss) go into the header at the end, in space reserved for them at the start.
 */
import { type Checkpoint } from '../io/checkpoint';
import { SafetensorsWriter } from '../io/writer';
import { type Batch, sliceBatch } from '../model/batch';
import type { Progress } from '../progress';
import type { GradField } from './gradfile';
import type { BatchResult, GradientSource } from './source';
import { ranges } from '../ranges';

export interface AccumulateResult {
  examples: number;
  tokens: number;
  /** Σₓ L(x) / tokens: mean token loss over the calibration set */
  meanLoss: number;
  /** gradient passes through the source */
  passes: number;
  /** whether the source kept the sums (on its backend) */
  summedBySource: boolean;
}

/** The file fields that a per-pass field feeds: grad → grad; absgrad → absgrad and/or silabs. */
function targetsOf(fields: readonly GradField[], f: 'grad' | 'absgrad'): GradField[] {
  return f === 'grad' ? ['grad'] : fields.filter((x) => x !== 'grad');
}

/** Header room for the counts set at the end (three keys with JSON number strings). */
const COUNTS_BYTES = 160;

/**
 * Accumulates the fields over `batches` for the parameters `names` (checkpoint order) and writes
 * them to `file` (atomically), with `metadata` (the cache key goes there).
 */
export async function accumulateToFile(
  source: GradientSource,
  batches: readonly Batch[],
  fields: readonly GradField[],
  names: readonly string[],
  base: Checkpoint,
  attacked: Checkpoint,
  file: string,
  metadata: Record<string, string>,
  progress: Progress,
): Promise<AccumulateResult> {
  const perExample = fields.some((f) => f !== 'grad');
  const passFields = [...new Set(fields.map((f) => (f === 'grad' ? 'grad' : 'absgrad')))] as Array<'grad' | 'absgrad'>;
  const units: Batch[] = perExample ? batches.flatMap((b) => b.input_ids.map((_, i) => sliceBatch(b, i, i + 1))) : [...batches];
  const total = units.reduce((a, b) => a + b.input_ids.length, 0);
  const specs = fields.flatMap((f) => names.map((n) => ({ name: `${f}/${n}`, dtype: 'F32' as const, shape: base.info(n).shape })));
  const meta = { format: 'pt', ...metadata };
  const w = SafetensorsWriter.create(file, specs, meta, { reserveHeaderBytes: COUNTS_BYTES });
  const known = new Set(names);
  let tokens = 0;
  let loss = 0;
  let examples = 0;
  let passes = 0;
  // a long pass per unit (layer-streamed) shows progress by its steps, else by examples
  const steps = source.stepsPerUnit ?? 0;
  const onStep = steps > 0 ? () => progress.tick(1) : undefined;
  const counted = (r: BatchResult, n: number, ticked = false) => {
    tokens += r.tokens;
    loss += r.loss;
    examples += n;
    passes++;
    if (!onStep && !ticked) progress.tick(n);
  };
  const add = (f: 'grad' | 'absgrad', name: string, start: number, g: Float32Array) => {
    if (!known.has(name)) return;
    const data = f === 'absgrad' ? absOf(g) : g;
    for (const target of targetsOf(fields, f)) w.addAt(`${target}/${name}`, start, data);
  };
  try {
    const label = metadata.label ?? 'gradients';
    if (onStep) progress.start(units.length * steps, `${label} (layer steps)`);
    else progress.start(total, label);
    const bySource = source.canSum?.(units, passFields) === true && source.sums !== undefined;
    if (bySource) {
      // the source's sums are final: |·| already taken per unit
      await source.sums!(
        units,
        passFields,
        counted,
        (f, name, start, data) => {
          if (!known.has(name)) return;
          for (const target of targetsOf(fields, f)) w.addAt(`${target}/${name}`, start, data);
        },
        onStep,
      );
    } else if (source.parallel === 1) {
      // one unit at a time: each tensor goes into the file as it arrives (a streamed 8B pass would
      // otherwise hold all 32 GB of a unit's gradients)
      for (const b of units) {
        const res = await source.gradients(
          b,
          (name, g) => {
            for (const f of passFields) add(f, name, 0, g);
          },
          onStep,
        );
        counted(res, b.input_ids.length);
      }
    } else {
      // units of a round run in parallel; their gradients are added in unit order (the same sums,
      // bit for bit, whichever worker finishes first)
      for (let r = 0; r < units.length; r += source.parallel) {
        const round = units.slice(r, r + source.parallel);
        const got = await Promise.all(
          round.map(async (b) => {
            const grads: Array<[string, Float32Array]> = [];
            const res = await source.gradients(b, (name, g) => grads.push([name, g]), onStep);
            // the bar moves as each worker finishes, not once per round
            if (!onStep) progress.tick(b.input_ids.length);
            return { res, grads, n: b.input_ids.length };
          }),
        );
        for (const { res, grads, n } of got) {
          for (const [name, g] of grads) for (const f of passFields) add(f, name, 0, g);
          counted(res, n, true);
        }
      }
    }
    progress.stop();
    if (fields.includes('silabs')) scaleByAbsDelta(w, names, base, attacked, 1 / examples);
    w.setMetadata({ ...meta, examples: String(examples), tokens: String(tokens), loss_sum: String(loss) });
    w.close();
    return { examples, tokens, meanLoss: tokens > 0 ? loss / tokens : 0, passes, summedBySource: bySource };
  } catch (e) {
    w.abort();
    throw e;
  }
}

/** |g|, as a copy (g may feed another field too) */
function absOf(g: Float32Array): Float32Array {
  const out = new Float32Array(g.length);
  for (let i = 0; i < g.length; i++) out[i] = Math.abs(g[i]);
  return out;
}

/** silabs/<name> ← Σ|∇| · |Δ| · scale, in element ranges (Δ read from the two checkpoints). */
function scaleByAbsDelta(w: SafetensorsWriter, names: readonly string[], base: Checkpoint, attacked: Checkpoint, scale: number): void {
  for (const n of names) {
    const key = `silabs/${n}`;
    for (const [lo, hi] of ranges(
      base.info(n).shape.reduce((x, y) => x * y, 1),
      1 << 22,
    )) {
      const b = base.readF32(n, lo, hi);
      const a = attacked.readF32(n, lo, hi);
      const s = w.readAt(key, lo, hi - lo);
      for (let i = 0; i < b.length; i++) s[i] = s[i] * Math.abs(a[i] - b[i]) * scale;
      w.writeAt(key, lo, s);
    }
  }
}
