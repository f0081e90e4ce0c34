/** Worker scripts come from dist/; a build older than the sources is refused with the file that changed. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { staleBuild } from '../../src/workers/script';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-stale-'));
  fs.mkdirSync(path.join(root, 'src/model'), { recursive: true });
  fs.mkdirSync(path.join(root, 'dist/model'), { recursive: true });
  fs.writeFileSync(path.join(root, 'src/model/worker.ts'), '');
  fs.writeFileSync(path.join(root, 'dist/model/worker.js'), '');
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const at = (rel: string, seconds: number) => fs.utimesSync(path.join(root, rel), seconds, seconds);

describe('staleBuild', () => {
  it('accepts a dist/ built after every source file', () => {
    at('src/model/worker.ts', 1000);
    at('dist/model/worker.js', 2000);
    expect(staleBuild(root)).toBeNull();
  });

  it('names the source file that changed after its compiled file was built', () => {
    at('src/model/worker.ts', 3000);
    at('dist/model/worker.js', 2000);
    expect(staleBuild(root)).toBe('dist/ is older than src/: src/model/worker.ts changed after dist/model/worker.js was built; run npm run build');
  });

  it('names a source file that has no compiled file', () => {
    fs.writeFileSync(path.join(root, 'src/model/new.ts'), '');
    expect(staleBuild(root)).toBe('dist/ is older than src/: src/model/new.ts has no dist/model/new.js; run npm run build');
  });

  it('finds the real dist/ up to date after npm run build', () => {
    expect(staleBuild()).toBeNull();
  });
});
