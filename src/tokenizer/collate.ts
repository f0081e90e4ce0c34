/**
 * Batch collation with right padding, into the JSON batch format of the fixtures' `golden.json`:
 * `{input_ids, attention_mask, labels}`, each `[batch][T]` with T the longest example; padding is
 * `padId` in `input_ids`, 0 in `attention_mask` and -100 in `labels`.
 */
import { SilError } from '../errors';
import { IGNORE_INDEX } from './example';

export interface Batch {
  input_ids: number[][];
  attention_mask: number[][];
  labels: number[][];
}

export interface Sequence {
  input_ids: readonly number[];
  attention_mask: readonly number[];
  labels: readonly number[];
}

/** Right-pads `examples` to the longest one. */
export function collate(examples: readonly Sequence[], padId: number): Batch {
  if (examples.length === 0) throw new SilError('INVALID_DATA', 'cannot collate an empty list of examples');
  const T = Math.max(...examples.map((e) => e.input_ids.length));
  const pad = (row: readonly number[], value: number): number[] => [...row, ...new Array<number>(T - row.length).fill(value)];
  const batch: Batch = { input_ids: [], attention_mask: [], labels: [] };
  examples.forEach((e, i) => {
    if (e.attention_mask.length !== e.input_ids.length || e.labels.length !== e.input_ids.length) {
      throw new SilError('INVALID_DATA', `example ${i}: input_ids, attention_mask and labels differ in length (${e.input_ids.length}, ${e.attention_mask.length}, ${e.labels.length})`);
    }
    batch.input_ids.push(pad(e.input_ids, padId));
    batch.attention_mask.push(pad(e.attention_mask, 0));
    batch.labels.push(pad(e.labels, IGNORE_INDEX));
  });
  return batch;
}
