/**
 * The notebooks are written from their .ts sources (notebooks/make.js) and run top to bottom
 * (`npm run notebooks`: tslab kernel, Debian's Jupyter). The run is skipped, with the reason in its
 * name, where Jupyter's nbconvert is absent; CI installs it.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../..');
const python = process.env.SIL_JUPYTER_PYTHON ?? '/usr/bin/python3';
const have = fs.existsSync(python) && fs.existsSync('/usr/lib/python3/dist-packages/nbconvert') && fs.existsSync(path.join(root, 'dist/mask/maskfile.js'));
const maybe = have ? it : it.skip;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const make = require('../../notebooks/make.js') as { sources(): Array<{ source: string; notebook: string }>; stale(): string[]; notebookJson(text: string): string };

it('every .ipynb is what notebooks/make.js writes from its .ts source', () => {
  const pairs = make.sources();
  expect(pairs.map((p) => path.basename(p.notebook))).toEqual(
    fs
      .readdirSync(path.join(root, 'notebooks'))
      .filter((f) => f.endsWith('.ipynb'))
      .sort(),
  );
  expect(make.stale()).toEqual([]);
});

it('notebooks/make.js reads code and markdown cells of the percent format', () => {
  const text = ['// header, not a cell', 'export {};', '', '// %% [markdown]', '// # Title', '//', '// text', '', '// %%', 'const a = 1;', '', 'console.log(a);', ''].join('\n');
  const nb = JSON.parse(make.notebookJson(text)) as { cells: Array<{ cell_type: string; id: string; source: string; outputs?: unknown[] }> };
  expect(nb.cells.map((c) => [c.cell_type, c.id, c.source])).toEqual([
    ['markdown', 'c00', '# Title\n\ntext'],
    ['code', 'c01', 'const a = 1;\n\nconsole.log(a);'],
  ]);
  expect(nb.cells[1].outputs).toEqual([]);
});
const why = have ? '' : ' [skipped: needs Debian jupyter-nbconvert and a built dist/]';

maybe(
  `every notebook executes top to bottom with the tslab kernel${why}`,
  () => {
    const out = execFileSync(process.execPath, [path.join(root, 'notebooks/run.js')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const n = fs.readdirSync(path.join(root, 'notebooks')).filter((f) => f.endsWith('.ipynb')).length;
    expect(n).toBeGreaterThan(0);
    expect(out).toContain(`${n} of ${n} notebooks ran top to bottom`);
  },
  600000,
);
