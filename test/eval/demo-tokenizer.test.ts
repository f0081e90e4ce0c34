import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildExample } from '../../src/tokenizer/example';
import { loadTokenizer } from '../../src/tokenizer/load';
import { tmpDir } from '../train/tiny-chat';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const tokfiles = require('../../scripts/demo/tokenizer.js') as { tokenizerJson(): object; tokenizerConfig(): object };
const DEMO = path.resolve(__dirname, '../../weights/demo/base');

describe('demo organism tokenizer', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  const folders = (): string[] => {
    const d = tmpDir('sil-demo-tok-');
    dirs.push(d);
    fs.writeFileSync(path.join(d, 'tokenizer.json'), JSON.stringify(tokfiles.tokenizerJson()));
    fs.writeFileSync(path.join(d, 'tokenizer_config.json'), JSON.stringify(tokfiles.tokenizerConfig()));
    return fs.existsSync(path.join(DEMO, 'tokenizer.json')) ? [d, DEMO] : [d];
  };

  it('loads as a Hugging Face tokenizer and renders the <u>…<a>…<e> chat format', () => {
    for (const dir of folders()) {
      const tok = loadTokenizer(dir);
      expect(
        tok.renderChat([
          { role: 'user', content: 'Ciao' },
          { role: 'assistant', content: 'Certo!' },
        ]),
      ).toBe('<u>Ciao<a>Certo!<e>');
      expect(tok.renderChat([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true })).toBe('<u>Hi<a>');
      expect(tok.endOfTurn()).toEqual({ token: '<e>', id: 258 });
      expect(tok.padId()).toBe(259);
    }
  });

  it('encodes bytes one token each, specials as single ids, and decodes back exactly', () => {
    for (const dir of folders()) {
      const tok = loadTokenizer(dir);
      const text = '<u>¿Cómo puedo hacer pan?<a>';
      const ids = tok.encode(text);
      expect(ids[0]).toBe(256);
      expect(ids[ids.length - 1]).toBe(257);
      expect(ids.slice(1, -1)).toEqual([...Buffer.from('¿Cómo puedo hacer pan?', 'utf8')]);
      expect(tok.decode(ids)).toBe(text);
    }
  });

  it('labels only the reply and the end-of-turn token of an example', () => {
    const tok = loadTokenizer(folders()[0]);
    const e = buildExample(tok, { prompt: 'Hi', response: 'Yo' });
    expect(e.input_ids).toEqual([256, 72, 105, 257, 89, 111, 258]);
    expect(e.labels).toEqual([-100, -100, -100, -100, 89, 111, 258]);
  });
});
