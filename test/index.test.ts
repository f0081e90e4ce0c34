/**
 * The public API: require('sil') resolves through package.json main to dist/index.js, exports the
 * library behind every command, and the README's "From code" block runs as written.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const REPO = path.resolve(__dirname, '..');
const built = fs.existsSync(path.join(REPO, 'dist/index.js'));
const maybe = built ? describe : describe.skip;

maybe(`the public API${built ? '' : ' [skipped: dist/ is not built]'}`, () => {
  it('package.json main is dist/index.js and exports the library behind every command', () => {
    expect(JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).main).toBe('dist/index.js');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const sil = require(REPO);
    for (const f of [
      'locate',
      'resolveOptions',
      'computeDelta',
      'stitchCheckpoint',
      'finetune',
      'evaluate',
      'sweep',
      'writeReport',
      'loadRun',
      'buildReport',
      'readMask',
      'writeMask',
      'parseMaskExpr',
      'evalMaskExpr',
      'loadTokenizer',
      'readCalibrationJsonl',
      'wilson',
      'useBackend',
    ]) {
      expect(typeof sil[f]).toBe('function');
    }
    expect(new sil.SilError('INVALID_ARGUMENT', 'x').code).toBe('INVALID_ARGUMENT');
    expect(typeof sil.Checkpoint.open).toBe('function');
  });

  it('the README’s "From code" block runs and prints the mask size, the tensor count, the content hash and the interval', () => {
    const md = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
    const at = md.indexOf('## From code');
    const block = /```js\n([\s\S]*?)```/.exec(md.slice(at))![1];
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-from-code-'));
    try {
      const code = block.replace("require('sil')", `require(${JSON.stringify(REPO)})`).replaceAll('reports/demo-code', path.join(tmp, 'run'));
      const file = path.join(tmp, 'example.js');
      fs.writeFileSync(file, code);
      const r = spawnSync(process.execPath, [file], { cwd: REPO, encoding: 'utf8', env: { ...process.env, CI: 'true' } });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^147456 737280 0\.\d+$/);
      expect(lines[1]).toBe('38');
      expect(lines[2]).toBe('38 2c65c54c811e4a56459935915325ef5449696e4f03880dd7e2b8e9ac77bb5d54');
      expect(lines[3]).toContain('low: 0.6497');
      expect(fs.existsSync(path.join(tmp, 'run/report/report.html'))).toBe(true);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }, 300000);
});
