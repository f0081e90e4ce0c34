/**
 * Gradient accumulation over a language's calibration examples, written as one cache file
 * (`cache/<lang>.grads.safetensors`, or `cache/<lang>.<fields>.grads.safetensors` for fields other
 * than `grad`; fields and names in gradfile.ts) with the inputs' hash in its metadata.
 *
 * - `grad` only (sil with reduce sum): examples go through the source in batches; the batch sums
 *   add up to Σₓ ∇L(x).
 * - `absgrad` / `silabs` (snip; sil with reduce mean-abs) need each example's own gradient: one
 *   example per call, `source.parallel` calls at a time, folded in example order.
 * Sums are kept in float64 and folded in a fixed order, so the same inputs give the same bytes.
 */
import { Checkpoint } from '../io/checkpoint';
import { SafetensorsWriter } from '../io/writer';
import type { Batch } from '../model/batch';
import type { Progress } from '../cli/progress';
import type { GradField } from './gradfile';
import type { GradientSource } from './source';

export interface AccumulateResult {
  examples: number;
  tokens: number;
  /** Σₓ L(x) / tokens: mean token loss over the calibration set */
  meanLoss: number;
  /** gradient passes through the source */
  passes: number;
}

class Sums {
  readonly sum = new Map<string, Float64Array>();
  readonly abs = new Map<string, Float64Array>();
  readonly silabs = new Map<string, Float64Array>();
  private readonly deltas = new Map<string, Float32Array>();

  constructor(private readonly fields: readonly GradField[], private readonly base: Checkpoint, private readonly attacked: Checkpoint) {}

  private acc(m: Map<string, Float64Array>, name: string, n: number): Float64Array {
    let a = m.get(name);
    if (!a) m.set(name, (a = new Float64Array(n)));
    return a;
  }

  private delta(name: string): Float32Array {
    let d = this.deltas.get(name);
    if (!d) {
      const b = this.base.readF32(name);
      const a = this.attacked.readF32(name);
      for (let i = 0; i < b.length; i++) a[i] -= b[i];
      this.deltas.set(name, (d = a));
    }
    return d;
  }

  add(name: string, g: Float32Array): void {
    const s = this.acc(this.sum, name, g.length);
    for (let i = 0; i < g.length; i++) s[i] += g[i];
    if (this.fields.includes('absgrad')) {
      const a = this.acc(this.abs, name, g.length);
      for (let i = 0; i < g.length; i++) a[i] += Math.abs(g[i]);
    }
    if (this.fields.includes('silabs')) {
      const d = this.delta(name);
      const a = this.acc(this.silabs, name, g.length);
      for (let i = 0; i < g.length; i++) a[i] += Math.abs(d[i] * g[i]);
    }
  }
}

function sliceBatch(b: Batch, lo: number, hi: number): Batch {
  return { input_ids: b.input_ids.slice(lo, hi), attention_mask: b.attention_mask?.slice(lo, hi), labels: b.labels.slice(lo, hi) };
}

/**
 * Accumulates the fields over `batches` and writes them to `file` (atomically), tensors in the
 * base checkpoint's order, with `metadata` (the cache key goes there).
 */
export async function accumulateToFile(
  source: GradientSource,
  batches: readonly Batch[],
  fields: readonly GradField[],
  base: Checkpoint,
  attacked: Checkpoint,
  file: string,
  metadata: Record<string, string>,
  progress: Progress,
): Promise<AccumulateResult> {
  const perExample = fields.some((f) => f !== 'grad');
  const sums = new Sums(fields, base, attacked);
  let tokens = 0;
  let loss = 0;
  let examples = 0;
  let passes = 0;
  const units: Batch[] = perExample ? batches.flatMap((b) => b.input_ids.map((_, i) => sliceBatch(b, i, i + 1))) : [...batches];
  progress.start(units.reduce((a, b) => a + b.input_ids.length, 0), metadata.label ?? 'gradients');
  for (let r = 0; r < units.length; r += source.parallel) {
    const round = units.slice(r, r + source.parallel);
    const got = await Promise.all(
      round.map(async (b) => {
        const grads: Array<[string, Float32Array]> = [];
        const res = await source.gradients(b, (name, g) => grads.push([name, g]));
        return { res, grads, n: b.input_ids.length };
      }),
    );
    for (const { res, grads, n } of got) {
      for (const [name, g] of grads) sums.add(name, g);
      tokens += res.tokens;
      loss += res.loss;
      examples += n;
      passes++;
      progress.tick(n);
    }
  }
  progress.stop();
  const names = base.names().filter((n) => sums.sum.has(n));
  const specs = fields.flatMap((f) => names.map((n) => ({ name: `${f}/${n}`, dtype: 'F32' as const, shape: base.info(n).shape })));
  const w = SafetensorsWriter.create(file, specs, { format: 'pt', ...metadata, examples: String(examples), tokens: String(tokens), loss_sum: String(loss) });
  try {
    for (const f of fields) {
      const m = f === 'grad' ? sums.sum : f === 'absgrad' ? sums.abs : sums.silabs;
      for (const n of names) {
        const src = m.get(n)!;
        const out = new Float32Array(src.length);
        const scale = f === 'silabs' ? 1 / examples : 1;
        for (let i = 0; i < src.length; i++) out[i] = src[i] * scale;
        w.write(`${f}/${n}`, out);
      }
    }
    w.close();
  } catch (e) {
    w.abort();
    throw e;
  }
  return { examples, tokens, meanLoss: tokens > 0 ? loss / tokens : 0, passes };
}
