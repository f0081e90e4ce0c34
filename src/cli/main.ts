#!/usr/bin/env node
/**
 * `sil` command line: thin glue, one module per command under src/cli/. Every failure prints one
 * typed line (`sil: error [CODE]: …`, failure.ts) and exits 2, usage errors included; SIGINT and
 * SIGTERM exit 130 and 143 after removing this process's temporary files (signals.ts).
 */
import { installSignalHandlers } from './signals';
// before the heavy modules load, so that a signal during start-up is handled too
if (require.main === module) installSignalHandlers();
import { Command, CommanderError } from 'commander';
import { clearKept } from '../io/temp';
import { COMMANDS } from './commands';
import { reportFailure } from './failure';
import { SIL_VERSION } from '../version';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('sil')
    .description('Safety Information Localization for multilingual LLM checkpoints')
    .version(SIL_VERSION)
    .showHelpAfterError()
    // usage errors throw (and exit 2 below) instead of exiting 1 inside commander
    .exitOverride();
  for (const register of COMMANDS) register(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  clearKept();
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander printed the message (and the help); --help and --version end with exit code 0
      return e.exitCode === 0 ? 0 : 2;
    }
    return reportFailure(e);
  }
}

if (require.main === module) {
  const fatal = (e: unknown) => {
    process.exitCode = reportFailure(e);
    process.exit(2);
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  void main(process.argv).then((code) => {
    process.exitCode = code;
  }, fatal);
}
