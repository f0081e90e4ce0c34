/**
 * Where a worker thread's script is: workers run compiled JavaScript, so `workerScript('model/worker')`
 * is dist/model/worker.js. From dist/ that is a file beside this module's folder; from src/ (the
 * tests, through a TypeScript transform) it is the build in dist/, which must then be at least as
 * new as every source file, or the workers would run yesterday's code.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SilError } from '../errors';

/** The package root: the parent of src/ or of dist/. */
export const PACKAGE_ROOT = path.resolve(__dirname, '../..');

/**
 * The first source file (src/**\/*.ts or .json) that is newer than its compiled counterpart in
 * dist/, or has none, as a sentence; null when dist/ is up to date.
 */
export function staleBuild(root = PACKAGE_ROOT): string | null {
  const src = path.join(root, 'src');
  const dist = path.join(root, 'dist');
  const walk = (rel: string): string | null => {
    for (const e of fs.readdirSync(path.join(src, rel), { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) {
        const found = walk(r);
        if (found) return found;
        continue;
      }
      if (!/\.(ts|json)$/.test(e.name) || e.name.endsWith('.d.ts')) continue;
      const built = path.join(dist, r.replace(/\.ts$/, '.js'));
      const srcTime = fs.statSync(path.join(src, r)).mtimeMs;
      if (!fs.existsSync(built)) return `dist/ is older than src/: src/${r} has no dist/${path.relative(dist, built)}; run npm run build`;
      if (fs.statSync(built).mtimeMs < srcTime) return `dist/ is older than src/: src/${r} changed after dist/${path.relative(dist, built)} was built; run npm run build`;
    }
    return null;
  };
  return fs.existsSync(src) && fs.existsSync(dist) ? walk('') : null;
}

/**
 * The compiled script for `module` (a path below src/ without extension, e.g. 'delta/worker').
 * Throws BACKEND_UNAVAILABLE when it is not built, or, running from src/, when dist/ is older than src/.
 */
export function workerScript(module: string, hint = ''): string {
  const runningFromDist = __filename.endsWith('.js');
  const script = runningFromDist ? path.resolve(__dirname, '..', `${module}.js`) : path.join(PACKAGE_ROOT, 'dist', `${module}.js`);
  if (!fs.existsSync(script)) throw new SilError('BACKEND_UNAVAILABLE', `the worker script is not built (looked for ${script}); run npm run build${hint ? ` ${hint}` : ''}`, { file: script });
  if (!runningFromDist) {
    const stale = staleBuild();
    if (stale) throw new SilError('BACKEND_UNAVAILABLE', `${stale}${hint ? ` ${hint}` : ''}`, { file: script });
  }
  return script;
}
