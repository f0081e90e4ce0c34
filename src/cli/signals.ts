/**
 * SIGINT and SIGTERM: stop the work, remove this process's temporary files, release its locks,
 * say what was kept (e.g. gradient caches a re-run resumes from) and exit 130 or 143. A signal
 * is acted on when the running step yields to the event loop (between batches, layers and files).
 */
import { releaseAllLocks } from '../io/lock';
import { keptOnInterrupt, removeOwnTemps } from '../io/temp';

const EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

let installed = false;

export function onSignal(signal: 'SIGINT' | 'SIGTERM'): never {
  const removed = removeOwnTemps();
  releaseAllLocks();
  const kept = keptOnInterrupt();
  process.stderr.write(`\nsil: interrupted by ${signal}: stopped; removed ${removed} temporary file(s) of this run; ` + (kept.length ? `kept ${kept.join('; ')}` : 'nothing else was written') + '\n');
  process.exit(EXIT[signal]);
}

export function installSignalHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
}
