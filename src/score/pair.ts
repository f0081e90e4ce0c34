/**
 * Scores over a whole checkpoint pair, streamed tensor by tensor in element chunks — the order the
 * global selector's tie rule refers to (`Checkpoint.names()` of the base: stored tensors in file
 * order; the tied head is not listed, so a tied embedding counts once).
 */
import { SilError } from '../errors';
import { type Checkpoint } from '../io/checkpoint';
import { type BiasRule, participation, type Participation, type Scope } from './scope';
import { weightDiffScore } from './weightdiff';

export interface ScoredTensor {
  name: string;
  shape: number[];
  numel: number;
  /** `score`: computed; `zero`: counted with score 0 (biases) */
  part: Exclude<Participation, 'out'>;
}

export interface ScoreChunk {
  tensor: ScoredTensor;
  /** element offset of the chunk within the tensor */
  start: number;
  scores: Float32Array;
}

/** Default chunk: 4 Mi elements (16 MiB of float32). */
export const CHUNK = 1 << 22;

/** Throws CHECKPOINT_MISMATCH unless `other` stores the same tensor names with the same shapes as `ref`. */
export function checkSameTensors(ref: Checkpoint, other: Checkpoint): void {
  for (const name of ref.names()) {
    if (!other.has(name)) throw new SilError('CHECKPOINT_MISMATCH', `tensor is in ${ref.location} but not in this checkpoint`, { file: other.location, tensor: name });
    const a = ref.info(name).shape;
    const b = other.info(name).shape;
    if (a.join(',') !== b.join(',')) {
      throw new SilError('CHECKPOINT_MISMATCH', `shape [${b.join(', ')}] differs from [${a.join(', ')}] in ${ref.location}`, { file: other.location, tensor: name });
    }
  }
  const refNames = new Set(ref.names());
  const extra = other.names().find((n) => !refNames.has(n));
  if (extra !== undefined) throw new SilError('CHECKPOINT_MISMATCH', `tensor is not in ${ref.location}`, { file: other.location, tensor: extra });
}

/** The tensors a scope covers, in the checkpoint's order; N = Σ numel. */
export function scoredTensors(ck: Checkpoint, scope: Scope, biases: BiasRule = 'zero'): ScoredTensor[] {
  const out: ScoredTensor[] = [];
  for (const name of ck.names()) {
    const part = participation(ck.architecture, name, scope, biases);
    if (part === 'out') continue;
    const { shape, numel } = ck.info(name);
    out.push({ name, shape: [...shape], numel, part });
  }
  return out;
}

export function totalOf(tensors: readonly ScoredTensor[]): number {
  return tensors.reduce((a, t) => a + t.numel, 0);
}

/**
 * Streams any elementwise score of a pair: `score(base, attacked, tensor, start)` fills a chunk;
 * `zero` tensors yield zeros without reading anything.
 */
export function* pairScoreChunks(
  base: Checkpoint,
  attacked: Checkpoint,
  tensors: readonly ScoredTensor[],
  score: (base: Float32Array, attacked: Float32Array, tensor: ScoredTensor, start: number) => Float32Array,
  chunk = CHUNK,
): Generator<ScoreChunk> {
  for (const t of tensors) {
    let start = 0;
    do {
      const end = Math.min(t.numel, start + chunk);
      const scores = t.part === 'zero' ? new Float32Array(end - start) : score(base.readF32(t.name, start, end), attacked.readF32(t.name, start, end), t, start);
      yield { tensor: t, start, scores };
      start = end;
    } while (start < t.numel);
  }
}

/** weightdiff |Δ| over a pair, streamed. */
export function weightDiffChunks(base: Checkpoint, attacked: Checkpoint, tensors: readonly ScoredTensor[], chunk = CHUNK): Generator<ScoreChunk> {
  return pairScoreChunks(base, attacked, tensors, (b, a) => weightDiffScore(b, a, b), chunk);
}
