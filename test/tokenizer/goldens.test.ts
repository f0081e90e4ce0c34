import * as fs from 'node:fs';
import * as path from 'node:path';
import { TOKENIZERS } from '../helpers/fixtures';
import { loadTokenizer, type CheckpointTokenizer, type ChatMessage } from '../../src/tokenizer';

interface ChatGolden {
  messages: ChatMessage[];
  add_generation_prompt: boolean;
  text: string;
  ids: number[];
}
interface Golden {
  encode_no_special: Record<string, number[]>;
  encode_with_special: Record<string, number[]>;
  decode_roundtrip: Record<string, string>;
  chat: ChatGolden[];
}
const GOLDENS = JSON.parse(fs.readFileSync(path.join(TOKENIZERS, 'tokenizer_goldens.json'), 'utf8')).tokenizers_golden as Record<string, Golden>;

const describeChat = (c: ChatGolden): string => `${c.messages.map((m) => m.role).join('+')}, add_generation_prompt ${c.add_generation_prompt}`;

describe.each([
  ['llama3', 'Llama-3'],
  ['qwen3', 'Qwen3'],
])('%s tokenizer', (name, family) => {
  const golden = GOLDENS[name];
  let tok: CheckpointTokenizer;
  beforeAll(() => {
    tok = loadTokenizer(path.join(TOKENIZERS, name));
  });

  it(`encodes multilingual text without special tokens exactly as the ${family} tokenizers crate does`, () => {
    for (const [lang, ids] of Object.entries(golden.encode_no_special)) {
      expect({ lang, ids: tok.encode(golden.decode_roundtrip[lang]) }).toEqual({ lang, ids });
    }
  });

  it(`adds exactly the special tokens the ${family} post-processor adds when asked to`, () => {
    for (const [lang, ids] of Object.entries(golden.encode_with_special)) {
      expect({ lang, ids: tok.encode(golden.decode_roundtrip[lang], { addSpecialTokens: true }) }).toEqual({ lang, ids });
    }
  });

  it('decodes the golden ids back to the original text, skipping special tokens', () => {
    for (const [lang, text] of Object.entries(golden.decode_roundtrip)) {
      expect({ lang, text: tok.decode(golden.encode_with_special[lang], { skipSpecialTokens: true }) }).toEqual({ lang, text });
      expect({ lang, text: tok.decode(golden.encode_no_special[lang]) }).toEqual({ lang, text });
    }
  });

  it(`renders the ${family} chat template with and without a system prompt and generation prompt exactly as transformers does`, () => {
    expect(golden.chat.length).toBeGreaterThanOrEqual(5);
    for (const c of golden.chat) {
      const text = tok.renderChat(c.messages, { addGenerationPrompt: c.add_generation_prompt });
      expect({ chat: describeChat(c), text }).toEqual({ chat: describeChat(c), text: c.text });
    }
  });

  it('encodes each rendered conversation to the golden ids, with a single BOS at most', () => {
    for (const c of golden.chat) {
      const ids = tok.encode(tok.renderChat(c.messages, { addGenerationPrompt: c.add_generation_prompt }));
      expect({ chat: describeChat(c), ids }).toEqual({ chat: describeChat(c), ids: c.ids });
      const bos = tok.specialTokens.bos_token === null ? undefined : tok.tokenToId(tok.specialTokens.bos_token);
      expect(ids.filter((id) => id === bos).length).toBeLessThanOrEqual(1);
    }
  });
});
