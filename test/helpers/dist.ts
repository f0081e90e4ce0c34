import * as fs from 'node:fs';
import * as path from 'node:path';
import { staleBuild } from '../../src/workers/script';

/**
 * The built CLI, dist/cli/main.js, for tests that run it. Throws (failing the suite that asks for
 * it, with the reason) when it is not built or dist/ is older than src/: `npm test` builds first.
 */
export function builtCli(): string {
  const main = path.resolve(__dirname, '../../dist/cli/main.js');
  if (!fs.existsSync(main)) throw new Error(`${main} is not built; run npm run build (npm test does)`);
  const stale = staleBuild();
  if (stale) throw new Error(stale);
  return main;
}
