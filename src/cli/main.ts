#!/usr/bin/env node
/**
 * `sil` command line: thin glue, one module per command under src/cli/. Errors that `sil`
 * recognises (SilError) print one line and exit 2; anything else prints its stack and exits 1.
 */
import { Command } from 'commander';
import { isSilError } from '../errors';
import { COMMANDS } from './commands';
import { SIL_VERSION } from '../version';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('sil')
    .description('Safety Information Localization for multilingual LLM checkpoints')
    .version(SIL_VERSION)
    .showHelpAfterError();
  for (const register of COMMANDS) register(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (e) {
    if (isSilError(e)) {
      process.stderr.write(`sil: error [${e.code}]: ${e.message}\n`);
      return 2;
    }
    if (e && typeof e === 'object' && 'exitCode' in e && typeof (e as { exitCode: unknown }).exitCode === 'number') {
      return (e as { exitCode: number }).exitCode;
    }
    process.stderr.write(`sil: ${(e as Error)?.stack ?? String(e)}\n`);
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
