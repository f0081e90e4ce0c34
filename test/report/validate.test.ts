/** sil report refuses damaged run files like any other input: one typed error naming the file and field. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadRun } from '../../src/report/run';
import { SilError } from '../../src/errors';
import { tmpDir } from '../score/tiny-pair';

let dir: string;
beforeEach(() => {
  dir = tmpDir('report-validate');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function rejects(files: Record<string, string>, message: RegExp): void {
  for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f), { recursive: true, force: true });
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  let err: unknown;
  try {
    loadRun(dir);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SilError);
  expect((err as SilError).code).toBe('INVALID_DATA');
  expect((err as Error).message).toMatch(message);
}

describe('loadRun on damaged run files', () => {
  it('refuses a null, array or ill-typed manifest', () => {
    rejects({ 'manifest.json': 'null' }, /"manifest" must be a JSON object, found null.*manifest\.json/);
    rejects({ 'manifest.json': '[1]' }, /"manifest" must be a JSON object/);
    rejects({ 'manifest.json': '{"k": -0.2}' }, /"k" must be a fraction in \(0, 1\], found -0\.2/);
    rejects({ 'manifest.json': '{"k": 1e308}' }, /"k" must be a fraction in \(0, 1\], found 1e\+308/);
    rejects({ 'manifest.json': '{"languages": "en"}' }, /"languages" must be a list of language names/);
    rejects({ 'manifest.json': '{"options": 3}' }, /"options" must be an object/);
  });

  it("refuses numbers out of their column's range, such as a negative k or 1e308", () => {
    rejects({ 'eval/k_sweep.csv': 'method,k,eval_lang,violation_rate\nsil,-0.1,en,0.5\n' }, /row 2, column k: expected a number from 0 to 1, found "-0\.1".*k_sweep\.csv/);
    rejects({ 'delta/layers.csv': 'layer,kind,numel,l1,l2,max_abs,mean_abs,rel_l2,frac_changed\n0,q,10,1e308,1,1,1,1,0.5\n' }, /column l1: expected a non-negative number up to 1e\+30, found "1e308"/);
    rejects({ 'regions.csv': 'rank,lang,tensor,layer,kind,unit,index,size,score_mass,selected_share\n0,en,t,0,q,row,1,4,1,0.5\n' }, /column rank: expected a positive integer/);
    rejects({ 'layers.csv': 'lang,layer,kind,numel,score_mass,score_share,selected,selected_fraction\nen,-1,q,4,1,0.5,1,0.25\n' }, /column layer: expected a layer index/);
    const header = 'lang,layer,kind,numel,l1,l2,max_abs,mean_abs,rel_l2,frac_changed,score_mass,score_share,selected,selected_fraction';
    rejects({ 'layers.csv': `${header}\nen,0,q,4,,,,,,,1,0.5,-1,0.25\n` }, /row 2, column selected: expected a non-negative integer, found "-1".*layers\.csv/);
    rejects({ 'delta/layers.csv': `${header}\n,0,q,10,1e308,1,1,1,1,0.5,,,,\n` }, /column l1: expected a non-negative number up to 1e\+30, found "1e308"/);
  });

  it('refuses a layers.csv row that fills neither the Δ nor the score columns, or only some of a group', () => {
    const header = 'lang,layer,kind,numel,l1,l2,max_abs,mean_abs,rel_l2,frac_changed,score_mass,score_share,selected,selected_fraction';
    rejects({ 'layers.csv': `${header}\nen,0,q,4,,,,,,,1,0.5,1,0.25\nen,1,q,4,,,,,,,,,,\n` }, /row 3: neither the Δ columns .* nor the score columns .* hold a value.*layers\.csv/);
    rejects({ 'layers.csv': `${header}\nen,0,q,4,,,,,,,1,,1,0.25\n` }, /row 2, column score_share: expected a number from 0 to 1, found ""/);
  });

  it('refuses malformed CSV: records of the wrong width, an unterminated quote, a repeated column', () => {
    rejects({ 'overlap.csv': 'a,b,sir,iou,cosine\nen,it,0.5,0.4\n' }, /CSV record 2 has 4 field\(s\), the header 5.*overlap\.csv/);
    rejects({ 'overlap.csv': 'a,b,sir,iou,cosine\n"en,it,0.5,0.4,0.3\n' }, /CSV ends inside a quoted field/);
    rejects({ 'overlap.csv': 'a,a,sir,iou,cosine\nen,it,0.5,0.4,0.3\n' }, /names column "a" twice/);
  });

  it('refuses run files that are not UTF-8', () => {
    fs.writeFileSync(path.join(dir, 'summary.md'), Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]));
    expect(() => loadRun(dir)).toThrow(/not valid UTF-8: line 1, byte 3/);
  });
});
