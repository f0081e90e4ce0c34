import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HF_TINY, TOKENIZERS, FIXTURE_NAMES } from '../helpers/fixtures';
import { type CheckpointTokenizer, IGNORE_INDEX, buildExample, collate, encodePrompt, loadTokenizer } from '../../src/tokenizer';
import { isSilError } from '../../src/errors';

const GOLDENS = JSON.parse(fs.readFileSync(path.join(TOKENIZERS, 'tokenizer_goldens.json'), 'utf8')).tokenizers_golden;
// The golden conversation with a final assistant turn: system + user + assistant.
const fullTurn = (name: string) => GOLDENS[name].chat.find((c: { messages: unknown[] }) => c.messages.length === 3);
const turnOf = (c: { messages: { content: string }[] }) => ({ system: c.messages[0].content, prompt: c.messages[1].content, response: c.messages[2].content });

describe('calibration examples on real vocabularies', () => {
  let llama: CheckpointTokenizer;
  let qwen: CheckpointTokenizer;
  beforeAll(() => {
    llama = loadTokenizer(path.join(TOKENIZERS, 'llama3'));
    qwen = loadTokenizer(path.join(TOKENIZERS, 'qwen3'));
  });

  it('finds the end-of-turn token from the chat template: <|eot_id|> for Llama-3, <|im_end|> for Qwen3', () => {
    expect(llama.endOfTurn()).toEqual({ token: '<|eot_id|>', id: 128009 });
    expect(qwen.endOfTurn()).toEqual({ token: '<|im_end|>', id: 151645 });
  });

  it('takes the pad id from the config pad_token, or 0 when there is none', () => {
    expect(qwen.padId()).toBe(151643);
    expect(llama.padId()).toBe(0);
  });

  it('builds a Llama-3 example whose ids equal the golden rendering of the whole conversation, with one BOS', () => {
    const c = fullTurn('llama3');
    const ex = buildExample(llama, turnOf(c));
    expect(ex.input_ids).toEqual(c.ids);
    expect(ex.input_ids.filter((id) => id === 128000)).toHaveLength(1);
    expect(ex.input_ids[0]).toBe(128000);
  });

  it('labels exactly the response tokens and the end-of-turn token, and masks the prompt with -100', () => {
    const turn = turnOf(fullTurn('llama3'));
    const ex = buildExample(llama, turn);
    const response = [...llama.encode(turn.response), 128009];
    expect(ex.promptLength).toBe(ex.input_ids.length - response.length);
    expect(ex.labels.slice(0, ex.promptLength).every((l) => l === IGNORE_INDEX)).toBe(true);
    expect(ex.labels.slice(ex.promptLength)).toEqual(response);
    expect(ex.input_ids.slice(ex.promptLength)).toEqual(response);
    expect(ex.attention_mask).toEqual(ex.input_ids.map(() => 1));
    expect(llama.decode(ex.input_ids.slice(ex.promptLength), { skipSpecialTokens: true })).toBe(turn.response);
  });

  it('puts the Qwen3 reply right after the generation prompt, without the empty think block a rendered final turn carries', () => {
    const c = fullTurn('qwen3');
    const turn = turnOf(c);
    const ex = buildExample(qwen, turn);
    const prompt = encodePrompt(qwen, turn);
    const reply = qwen.encode(turn.response);
    expect(ex.input_ids).toEqual([...prompt, ...reply, 151645]);
    // transformers' rendering of the whole conversation is not prompt + reply: it inserts <think>\n\n</think>\n\n.
    expect(c.ids).toEqual([...prompt, 151667, 271, 151668, 271, ...reply, 151645, 198]);
    expect(ex.labels.filter((l) => l !== IGNORE_INDEX)).toEqual([...reply, 151645]);
  });

  it('passes template variables through, so enable_thinking=false puts the empty think block into the Qwen3 prompt', () => {
    const turn = { prompt: 'Ciao', response: 'Ciao!' };
    const plain = buildExample(qwen, turn);
    const noThink = buildExample(qwen, turn, { templateKwargs: { enable_thinking: false } });
    expect(noThink.promptLength).toBe(plain.promptLength + 4);
    expect(noThink.input_ids.slice(plain.promptLength, noThink.promptLength)).toEqual([151667, 271, 151668, 271]);
  });

  it('renders without a system prompt when the turn has none', () => {
    const ex = buildExample(llama, { prompt: 'Hi', response: 'Hello.' });
    expect(llama.decode(ex.input_ids)).toBe('<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>');
  });

  it('cuts the response, never the prompt, to maxLength, and refuses a prompt that leaves no room', () => {
    const turn = { prompt: 'Write a long story.', response: 'Once upon a time there was a very long story that went on.' };
    const full = buildExample(qwen, turn);
    const cut = buildExample(qwen, turn, { maxLength: full.promptLength + 3 });
    expect(cut.input_ids).toEqual(full.input_ids.slice(0, full.promptLength + 3));
    expect(cut.labels.filter((l) => l !== IGNORE_INDEX)).toHaveLength(3);
    expect(() => buildExample(qwen, turn, { maxLength: full.promptLength })).toThrow(/no room for a response/);
  });

  it('collates examples of different lengths with right padding', () => {
    const a = buildExample(qwen, { prompt: 'Hi', response: 'Hello there, how are you today?' });
    const b = buildExample(qwen, { prompt: 'Hi', response: 'Hey' });
    const batch = collate([a, b], qwen.padId());
    const T = a.input_ids.length;
    expect(batch.input_ids.map((r) => r.length)).toEqual([T, T]);
    expect(batch.input_ids[1].slice(b.input_ids.length)).toEqual(new Array(T - b.input_ids.length).fill(151643));
    expect(batch.attention_mask[1]).toEqual([...b.attention_mask, ...new Array(T - b.input_ids.length).fill(0)]);
    expect(batch.labels[1]).toEqual([...b.labels, ...new Array(T - b.input_ids.length).fill(-100)]);
    expect(batch.input_ids[0]).toEqual(a.input_ids);
  });
});

describe('collate', () => {
  it.each(FIXTURE_NAMES)('reproduces the right-padded batch of the %s fixture (pad id 0) from its unpadded rows', (name) => {
    const g = JSON.parse(fs.readFileSync(path.join(HF_TINY, name, 'golden.json'), 'utf8'));
    const rows = g.input_ids.map((ids: number[], i: number) => {
      const n = g.attention_mask[i].reduce((s: number, m: number) => s + m, 0);
      return { input_ids: ids.slice(0, n), attention_mask: g.attention_mask[i].slice(0, n), labels: g.labels[i].slice(0, n) };
    });
    expect(collate(rows, 0)).toEqual({ input_ids: g.input_ids, attention_mask: g.attention_mask, labels: g.labels });
  });

  it('rejects an empty list and rows whose fields differ in length', () => {
    expect(() => collate([], 0)).toThrow(/empty/);
    expect(() => collate([{ input_ids: [1, 2], attention_mask: [1], labels: [1, 2] }], 0)).toThrow(/differ in length/);
  });
});

describe('loadTokenizer on small folders', () => {
  const tiny = {
    version: '1.0',
    truncation: null,
    padding: null,
    normalizer: null,
    post_processor: null,
    decoder: null,
    pre_tokenizer: { type: 'Whitespace' },
    added_tokens: ['<s>', '</s>', '[INST]', '[/INST]'].map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    model: { type: 'WordLevel', vocab: { '<s>': 0, '</s>': 1, '[INST]': 2, '[/INST]': 3, hi: 4, there: 5 }, unk_token: '<s>' },
  };
  const mistralLike = "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}{{ '[INST] ' + m.content + ' [/INST]' }}{% else %}{{ m.content + eos_token }}{% endif %}{% endfor %}";
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-tok-'));
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tiny));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads the chat template from chat_template.jinja and finds </s> as the end of turn', () => {
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>', eos_token: { content: '</s>', __type: 'AddedToken' } }));
    fs.writeFileSync(path.join(dir, 'chat_template.jinja'), mistralLike);
    const tok = loadTokenizer(dir);
    expect(tok.renderChat([{ role: 'user', content: 'hi' }], { addGenerationPrompt: true })).toBe('<s>[INST] hi [/INST]');
    expect(tok.endOfTurn()).toEqual({ token: '</s>', id: 1 });
    expect(buildExample(tok, { prompt: 'hi', response: 'there' }).input_ids).toEqual([0, 2, 4, 3, 5, 1]);
  });

  it('picks the default template from a list of named templates', () => {
    fs.writeFileSync(
      path.join(dir, 'tokenizer_config.json'),
      JSON.stringify({
        bos_token: '<s>',
        eos_token: '</s>',
        chat_template: [
          { name: 'tool_use', template: 'x' },
          { name: 'default', template: mistralLike },
        ],
      }),
    );
    expect(loadTokenizer(dir).renderChat([{ role: 'user', content: 'hi' }])).toBe('<s>[INST] hi [/INST]');
  });

  it('says which folder lacks tokenizer.json, and that a checkpoint without a chat template cannot render one', () => {
    fs.rmSync(path.join(dir, 'tokenizer.json'));
    expect(() => loadTokenizer(dir)).toThrow(expect.objectContaining({ code: 'FILE_NOT_FOUND', file: path.join(dir, 'tokenizer.json') }));
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tiny));
    const tok = loadTokenizer(dir);
    let err: unknown;
    try {
      tok.renderChat([{ role: 'user', content: 'hi' }]);
    } catch (e) {
      err = e;
    }
    expect(isSilError(err) && err.code).toBe('INVALID_CONFIG');
    expect(String(err)).toContain(dir);
  });
});
