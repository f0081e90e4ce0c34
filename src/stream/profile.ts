/**
 * Seconds per stage of a streamed pass (`sil grad --profile`), measured around the pass's steps:
 * the checkpoint reads (`read`) and the sink (`sink`) through wrappers, every other stage by timing
 * a step and then synchronising the backend (reading back a fresh one-element result waits for the
 * work queued before it), so each stage's own time is measured at the cost of the overlap.
 */
import * as tf from '@tensorflow/tfjs';
import type { GradSink } from './pass';
import type { RangedSource } from './weights';

const now = () => Number(process.hrtime.bigint()) / 1e9;

/** Waits until the backend has finished the work queued so far. */
async function syncBackend(): Promise<void> {
  const t = tf.tidy(() => tf.add(tf.zeros([1]), 1));
  await t.data();
  t.dispose();
}

export class StageClock {
  constructor(readonly seconds: Record<string, number>) {}

  private add(stage: string, t: number): void {
    this.seconds[stage] = (this.seconds[stage] ?? 0) + now() - t;
  }

  /** Runs `step`, waits for the backend, and counts the time as `stage`. */
  async time<T>(stage: string, step: () => T | Promise<T>): Promise<T> {
    const t = now();
    const r = await step();
    await syncBackend();
    this.add(stage, t);
    return r;
  }

  /** `src` with its reads counted as `read`. */
  source(src: RangedSource): RangedSource {
    const timed =
      <A extends unknown[], R>(f: (...a: A) => R) =>
      (...a: A): R => {
        const t = now();
        const x = f(...a);
        this.add('read', t);
        return x;
      };
    return {
      readF32: timed((name: string, start?: number, end?: number) => src.readF32(name, start, end)),
      readBytes: src.readBytes ? timed((name: string, start?: number, end?: number, into?: Uint8Array) => src.readBytes!(name, start, end, into)) : undefined,
      info: src.info ? (name) => src.info!(name) : undefined,
    };
  }

  /** `sink` with its time counted as `sink`. */
  sink(sink: GradSink): GradSink {
    return async (name, start, data) => {
      const t = now();
      await sink(name, start, data);
      this.add('sink', t);
    };
  }
}
