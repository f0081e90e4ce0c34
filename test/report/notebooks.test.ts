/**
 * The notebooks run top to bottom (`npm run notebooks`: tslab kernel, Debian's Jupyter). Skipped,
 * with the reason in its name, where Jupyter's nbconvert is absent; CI installs it.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../..');
const python = process.env.SIL_JUPYTER_PYTHON ?? '/usr/bin/python3';
const have = fs.existsSync(python) && fs.existsSync('/usr/lib/python3/dist-packages/nbconvert') && fs.existsSync(path.join(root, 'dist/mask/maskfile.js'));
const maybe = have ? it : it.skip;
const why = have ? '' : ' [skipped: needs Debian jupyter-nbconvert and a built dist/]';

maybe(`every notebook executes top to bottom with the tslab kernel${why}`, () => {
  const out = execFileSync(process.execPath, [path.join(root, 'notebooks/run.js')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const n = fs.readdirSync(path.join(root, 'notebooks')).filter((f) => f.endsWith('.ipynb')).length;
  expect(n).toBeGreaterThan(0);
  expect(out).toContain(`${n} of ${n} notebooks ran top to bottom`);
}, 600000);
