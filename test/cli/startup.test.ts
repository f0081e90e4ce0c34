/**
 * Start-up loads per command: `sil` starts with the command definitions only, and a command loads
 * its implementation (TF.js, the tokenizer, the report renderers) when it runs. Checked on the built
 * CLI in a fresh process, by the modules in require's cache when the command has finished.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { builtCli } from '../helpers/dist';
import { writeMask } from '../../src/mask/maskfile';

const HEAVY = /node_modules[\\/](@tensorflow|@huggingface|pdfkit|fontkit|@resvg|d3-[a-z-]+|mathjs)[\\/]/;

/** Runs `sil args` through main() in a fresh node, returning its exit code and the heavy packages it loaded. */
function loadedBy(args: string[]): { code: number; heavy: string[] } {
  const script = `
    const { main } = require(${JSON.stringify(builtCli())});
    main(['node', 'sil', ...${JSON.stringify(args)}]).then((code) => {
      const heavy = new Set(Object.keys(require.cache).map((k) => (k.match(${HEAVY}) || [])[1]).filter(Boolean));
      process.stderr.write('\\n@@' + JSON.stringify({ code, heavy: [...heavy].sort() }) + '\\n');
    });`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  const out = r.stderr;
  return JSON.parse(out.slice(out.lastIndexOf('@@') + 2)) as { code: number; heavy: string[] };
}

describe('sil start-up', () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-startup-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('--help, every command’s --help and a usage error load no model runtime, tokenizer or renderer', () => {
    for (const args of [['--help'], ['locate', '--help'], ['grad', '--help'], ['eval', '--help'], ['report', '--help'], ['sweep', '--help'], ['finetune', '--help'], ['locate', '--k']]) {
      expect({ args, ...loadedBy(args) }).toEqual({ args, code: args.includes('--help') ? 0 : 2, heavy: [] });
    }
  });

  it('sil mask stats reads a mask without TF.js, and sil report loads its renderers', () => {
    const mask = path.join(dir, 'm.safetensors');
    writeMask(mask, { tensors: [{ name: 'w', shape: [2, 4], data: Uint8Array.from([1, 0, 0, 1, 1, 1, 0, 0]) }] });
    expect(loadedBy(['mask', 'stats', mask, '--json'])).toEqual({ code: 0, heavy: [] });
    const report = loadedBy(['report', path.join(dir, 'no-such-run')]);
    expect(report.code).toBe(2);
    expect(report.heavy).toEqual(expect.arrayContaining(['pdfkit', '@resvg']));
  });
});
