/**
 * `--responses generate:<checkpoint>`: the checkpoint's own greedy answers as responses (the
 * paper's SIL scores the attacked model's harmful completions). Reference decoding, no KV cache:
 * each new token runs the whole sequence again, so it is for small models and short answers
 * (`maxNewTokens`). Prompts are rendered with the chat template of the base checkpoint's tokenizer;
 * decoding stops at the end-of-turn or end-of-sequence token.
 */
import { Checkpoint } from '../io/checkpoint';
import type { PromptItem, ResponseGenerator } from '../data';
import { CausalLM } from '../model/model';
import { encodePrompt } from '../tokenizer';
import type { CheckpointTokenizer } from '../tokenizer';

export function argmax(a: Float32Array, start: number, end: number): number {
  let best = start;
  for (let i = start + 1; i < end; i++) if (a[i] > a[best]) best = i;
  return best - start;
}

/** Greedy decoding on the current TF.js backend; `system` (when set) replaces every prompt's own. */
export function greedyGenerator(tok: CheckpointTokenizer, opts: { maxNewTokens: number; system?: string }): ResponseGenerator {
  return async (checkpoint: string, prompts: readonly PromptItem[]) => {
    const ck = Checkpoint.open(checkpoint);
    const model = CausalLM.fromCheckpoint(ck);
    try {
      const stop = new Set<number>([tok.endOfTurn().id]);
      const eos = tok.specialTokens.eos_token;
      const eosId = eos === null ? undefined : tok.tokenToId(eos);
      if (eosId !== undefined) stop.add(eosId);
      const V = model.cfg.vocabSize;
      return prompts.map((p) => {
        const ids = encodePrompt(tok, { system: opts.system ?? p.system, prompt: p.prompt });
        const out: number[] = [];
        for (let step = 0; step < opts.maxNewTokens; step++) {
          const logits = model.logits({ input_ids: [ids], labels: [ids.map(() => -100)] });
          const next = argmax(logits, (ids.length - 1) * V, ids.length * V);
          if (stop.has(next)) break;
          ids.push(next);
          out.push(next);
        }
        return tok.decode(out, { skipSpecialTokens: true });
      });
    } finally {
      model.dispose();
      ck.close();
    }
  };
}
