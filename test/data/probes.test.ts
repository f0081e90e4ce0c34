import * as fs from 'node:fs';
import { DEFAULT_PROBES_FILE, PROBE_LANGUAGES, loadProbes, parseCalibrationJsonl, parseResponseMode, selectPairs, loadMultiJail } from '../../src/data';
import * as path from 'node:path';
import { DATASETS } from '../helpers/fixtures';

describe('the default probe set', () => {
  const records = loadProbes();

  it('validates against the calibration schema', () => {
    expect(records.length).toBeGreaterThan(0);
    expect(parseCalibrationJsonl(fs.readFileSync(DEFAULT_PROBES_FILE, 'utf8'), DEFAULT_PROBES_FILE)).toEqual(records);
  });

  it('has at least 24 harmful prompts, each with a refusal and a compliance opening in all 8 languages', () => {
    const ids = [...new Set(records.filter((r) => r.kind !== 'benign').map((r) => r.id))];
    expect(ids.length).toBeGreaterThanOrEqual(24);
    for (const id of ids) {
      for (const lang of PROBE_LANGUAGES) {
        const refusal = records.filter((r) => r.id === id && r.lang === lang && r.kind === 'refusal');
        const harmful = records.filter((r) => r.id === id && r.lang === lang && r.kind === 'harmful');
        expect({ id, lang, refusal: refusal.length, harmful: harmful.length }).toEqual({ id, lang, refusal: 1, harmful: 1 });
        expect(refusal[0].prompt).toBe(harmful[0].prompt);
      }
    }
  });

  it('has at least 24 benign prompts with answers in all 8 languages, under ids disjoint from the harmful ones', () => {
    const benign = [...new Set(records.filter((r) => r.kind === 'benign').map((r) => r.id))];
    const harmful = new Set(records.filter((r) => r.kind !== 'benign').map((r) => r.id));
    expect(benign.length).toBeGreaterThanOrEqual(24);
    expect(benign.filter((id) => harmful.has(id))).toEqual([]);
    for (const id of benign) {
      expect({ id, langs: records.filter((r) => r.id === id).map((r) => r.lang).sort() }).toEqual({ id, langs: [...PROBE_LANGUAGES].sort() });
    }
  });

  it('has exactly the 8 probe languages and no text left untranslated from English', () => {
    expect(new Set(records.map((r) => r.lang))).toEqual(new Set(PROBE_LANGUAGES));
    const en = new Map(records.filter((r) => r.lang === 'en').map((r) => [`${r.id}/${r.kind}`, r]));
    for (const r of records.filter((x) => x.lang !== 'en')) {
      const e = en.get(`${r.id}/${r.kind}`)!;
      expect({ id: r.id, lang: r.lang, same: r.prompt === e.prompt || r.response === e.response }).toEqual({ id: r.id, lang: r.lang, same: false });
    }
  });
});

describe('calibration JSONL validation', () => {
  it('names the file and line of a record with a bad kind, an unknown key, or a duplicate', () => {
    const ok = '{"id":"a","lang":"en","kind":"refusal","prompt":"p","response":"r"}';
    expect(() => parseCalibrationJsonl(`${ok}\n{"id":"a","lang":"en","kind":"evil","prompt":"p","response":"r"}\n`, 'x.jsonl')).toThrow(
      expect.objectContaining({ code: 'INVALID_DATA', file: 'x.jsonl', message: expect.stringMatching(/^line 2: "kind" must be one of harmful, refusal, benign/) }),
    );
    expect(() => parseCalibrationJsonl(`\n${ok.replace('"prompt"', '"promt"')}`, 'x.jsonl')).toThrow(/line 2: unknown key\(s\) promt/);
    expect(() => parseCalibrationJsonl(`${ok}\n\n${ok}`, 'x.jsonl')).toThrow(/line 3: duplicate \(id a, lang en, kind refusal\), first on line 1/);
    expect(() => parseCalibrationJsonl('{"id":"a",', 'x.jsonl')).toThrow(/line 1: not valid JSON/);
    expect(() => parseCalibrationJsonl(ok.replace('"en"', '"English"'), 'x.jsonl')).toThrow(/"lang" must be an ISO 639-1 code/);
    expect(() => parseCalibrationJsonl('\n', 'x.jsonl')).toThrow(/no records/);
  });

  it('keeps an optional system prompt', () => {
    const [r] = parseCalibrationJsonl('{"id":"a","lang":"it","kind":"benign","prompt":"p","response":"r","system":"Sei utile."}', 'x.jsonl');
    expect(r).toEqual({ id: 'a', lang: 'it', kind: 'benign', prompt: 'p', response: 'r', system: 'Sei utile.' });
  });
});

describe('selecting responses', () => {
  const records = loadProbes();

  it('parses --responses values and rejects others', () => {
    expect(parseResponseMode('refusal')).toEqual({ mode: 'refusal' });
    expect(parseResponseMode('generate:/ckpt/llama')).toEqual({ mode: 'generate', checkpoint: '/ckpt/llama' });
    expect(() => parseResponseMode('greedy')).toThrow(/--responses must be dataset, refusal, compliance or generate:<checkpoint>/);
  });

  it('pairs each harmful probe with its own refusal or compliance opening, per requested language', async () => {
    const refusal = await selectPairs(records, { mode: 'refusal' }, { langs: ['it', 'bn'] });
    expect([...refusal.keys()]).toEqual(['it', 'bn']);
    const lock = refusal.get('it')!.find((p) => p.id === 'lockpick')!;
    expect(lock.response).toBe(records.find((r) => r.id === 'lockpick' && r.lang === 'it' && r.kind === 'refusal')!.response);
    const compliance = await selectPairs(records, { mode: 'compliance' }, { langs: ['zh'] });
    expect(compliance.get('zh')!.find((p) => p.id === 'lockpick')!.response).toMatch(/^当然/);
    expect(compliance.get('zh')!.length).toBe(refusal.get('it')!.length);
  });

  it('uses the benign answers for the benign baseline', async () => {
    const benign = await selectPairs(records, { mode: 'dataset' }, { kind: 'benign', langs: ['fr'] });
    expect(benign.get('fr')!.find((p) => p.id === 'capital-australia')!.response).toBe("La capitale de l'Australie est Canberra.");
  });

  it('gives prompt-only data a generic refusal in its language, and refuses dataset responses it does not have', async () => {
    const items = await loadMultiJail(path.join(DATASETS, 'multijail/MultiJail.csv'), { langs: ['sw'] });
    const pairs = await selectPairs(items, { mode: 'refusal' });
    expect(pairs.get('sw')).toHaveLength(315);
    expect(pairs.get('sw')![0].response).toBe('Samahani, siwezi kukusaidia na hilo.');
    await expect(selectPairs(items, { mode: 'dataset' })).rejects.toThrow(/prompt 0 \(sw\) has no harmful response in the data/);
  });

  it('says when a requested language is missing or the set has no prompts of the kind', async () => {
    await expect(selectPairs(records, { mode: 'refusal' }, { langs: ['en', 'sw'], source: 'probes.jsonl' })).rejects.toMatchObject({
      code: 'INVALID_DATA',
      message: expect.stringContaining('no harmful prompts in language(s) sw'),
    });
    await expect(selectPairs(records.filter((r) => r.kind === 'benign'), { mode: 'refusal' })).rejects.toThrow(/no harmful prompts/);
  });

  it('hands generate:<checkpoint> to the supplied generator, and fails clearly without one', async () => {
    const seen: string[] = [];
    const pairs = await selectPairs(records, { mode: 'generate', checkpoint: 'ck' }, {
      langs: ['ru'],
      generate: async (checkpoint, prompts) => {
        seen.push(checkpoint);
        return prompts.map((p) => `answer to ${p.id}`);
      },
    });
    expect(seen).toEqual(['ck']);
    expect(pairs.get('ru')![0].response).toBe(`answer to ${pairs.get('ru')![0].id}`);
    await expect(selectPairs(records, { mode: 'generate', checkpoint: 'ck' })).rejects.toMatchObject({ code: 'UNSUPPORTED_OPTION' });
  });
});
