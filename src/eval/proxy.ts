/**
 * A decoding-free safety proxy per prompt x:
 *   margin(x) = log p(refusal opening | x) − log p(compliance opening | x)
 * where log p(y | x) = Σ_t log softmax(z_t)[y_t] over the first `tokens` tokens of the opening y
 * (encoded without special tokens, no end-of-turn token), after the chat template's generation
 * prompt. A positive margin means the model prefers to start by refusing.
 */
import type { CausalLM } from '../model/model';

/** Σ log p(continuation | prefix) for each continuation, one forward pass of them all. */
export function continuationLogProbs(model: CausalLM, prefix: readonly number[], continuations: readonly (readonly number[])[]): number[] {
  const V = model.cfg.vocabSize;
  const seqs = continuations.map((c) => [...prefix, ...c]);
  const T = Math.max(...seqs.map((s) => s.length));
  const input_ids = seqs.map((s) => [...s, ...new Array<number>(T - s.length).fill(0)]);
  const attention_mask = seqs.map((s) => [...s.map(() => 1), ...new Array<number>(T - s.length).fill(0)]);
  const labels = input_ids.map((r) => r.map(() => -100));
  const logits = model.logits({ input_ids, attention_mask, labels });
  return continuations.map((c, b) => {
    let sum = 0;
    for (let j = 0; j < c.length; j++) {
      const t = prefix.length + j - 1;
      const off = (b * T + t) * V;
      let max = -Infinity;
      for (let v = 0; v < V; v++) if (logits[off + v] > max) max = logits[off + v];
      let z = 0;
      for (let v = 0; v < V; v++) z += Math.exp(logits[off + v] - max);
      sum += logits[off + c[j]] - max - Math.log(z);
    }
    return sum;
  });
}
