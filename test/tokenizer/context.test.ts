/** Examples longer than the model's context are cut to it, keeping the generation prompt and one response token. */
import { buildExample, IGNORE_INDEX } from '../../src/tokenizer/example';
import type { CheckpointTokenizer } from '../../src/tokenizer';

/** One token per character; the "template" appends a 2-token generation prompt `>>`. */
const tok = {
  source: 'fake',
  renderChat: (messages: Array<{ content: string }>) => messages.map((m) => m.content).join('') + '>>',
  encode: (s: string) => [...s].map((c) => c.charCodeAt(0)),
  endOfTurn: () => ({ id: 1, content: '<eot>' }),
} as unknown as CheckpointTokenizer;

describe('buildExample with the model context', () => {
  it('leaves an example that fits alone', () => {
    const e = buildExample(tok, { prompt: 'abc', response: 'xy' }, { context: 8 });
    expect(e.input_ids.length).toBe(3 + 2 + 2 + 1);
    expect(e.cut).toBeUndefined();
  });

  it('cuts the response first, then the prompt from its start, keeping the generation prompt', () => {
    const r = buildExample(tok, { prompt: 'abc', response: 'wxyz' }, { context: 7 });
    expect(r.input_ids.length).toBe(7);
    expect(r.cut).toBe(3);
    expect(r.promptLength).toBe(5);
    const long = buildExample(tok, { prompt: 'p'.repeat(300), response: 'ok' }, { context: 16 });
    expect(long.input_ids.length).toBe(16);
    expect(long.promptLength).toBe(15);
    expect(long.input_ids.slice(13, 15)).toEqual([62, 62]); // '>>' stays at the end of the prompt
    expect(long.labels.filter((l) => l !== IGNORE_INDEX)).toEqual([111]); // one response token, 'o'
    expect(long.cut).toBe(300 + 2 + 3 - 16);
  });

  it('still rejects a prompt longer than --max-length', () => {
    expect(() => buildExample(tok, { prompt: 'p'.repeat(20), response: 'ok' }, { maxLength: 10, context: 16 })).toThrow(/prompt is 22 tokens; maxLength 10/);
  });
});
