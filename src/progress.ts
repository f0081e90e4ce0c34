/**
 * Progress bars for long steps: drawn with cli-progress on a TTY (stderr), silent otherwise
 * (CI, pipes, `--json`). Every long loop takes a `Progress` so library code never touches the TTY.
 */
import { SingleBar, Presets } from 'cli-progress';

export interface Progress {
  start(total: number, label: string): void;
  tick(n?: number): void;
  stop(): void;
}

export const SILENT: Progress = { start() {}, tick() {}, stop() {} };

export function progressFor(stream: NodeJS.WriteStream = process.stderr, enabled = true): Progress {
  if (!enabled || !stream.isTTY || process.env.CI) return SILENT;
  let bar: SingleBar | null = null;
  return {
    start(total, label) {
      bar?.stop();
      bar = new SingleBar(
        { format: `${label} [{bar}] {percentage}% | {value}/{total} | {duration_formatted} (eta {eta_formatted})`, stream, hideCursor: true, etaBuffer: 50 },
        Presets.shades_classic,
      );
      bar.start(total, 0);
    },
    tick(n = 1) {
      bar?.increment(n);
    },
    stop() {
      bar?.stop();
      bar = null;
    },
  };
}
