#!/usr/bin/env node
/**
 * `npm run notebooks`: registers the tslab kernel with the system Jupyter (Debian's
 * jupyter-nbconvert, jupyter-client, python3-ipykernel) and executes every notebook in this folder
 * top to bottom with `jupyter nbconvert --to notebook --execute`, writing the executed copies to a
 * temporary folder. Exits non-zero when a cell fails. Needs `npm run build` (notebooks load dist/).
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const python = process.env.SIL_JUPYTER_PYTHON || '/usr/bin/python3';
const env = { ...process.env, PATH: `${path.join(root, 'node_modules/.bin')}:${process.env.PATH}`, PYDEVD_DISABLE_FILE_VALIDATION: '1' };
const notebooks = fs
  .readdirSync(__dirname)
  .filter((f) => f.endsWith('.ipynb'))
  .sort();
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-notebooks-'));

execFileSync(path.join(root, 'node_modules/.bin/tslab'), ['install', `--python=${python}`], { env, stdio: 'inherit' });
let failed = 0;
for (const nb of notebooks) {
  const t0 = Date.now();
  try {
    execFileSync(python, ['-Xfrozen_modules=off', '-m', 'jupyter', 'nbconvert', '--to', 'notebook', '--execute', '--ExecutePreprocessor.timeout=300', '--output-dir', out, nb], {
      cwd: __dirname,
      env,
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    console.log(`ok   ${nb} (${((Date.now() - t0) / 1000).toFixed(1)} s) → ${path.join(out, nb)}`);
  } catch (e) {
    failed++;
    console.log(
      `FAIL ${nb}\n${String(e.stderr || e.message)
        .split('\n')
        .filter((l) => !/frozen|debugger|PYDEVD|breakpoint/i.test(l))
        .slice(-25)
        .join('\n')}`,
    );
  }
}
console.log(`${notebooks.length - failed} of ${notebooks.length} notebooks ran top to bottom`);
process.exitCode = failed ? 1 : 0;
