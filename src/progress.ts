/**
 * Progress bars for long steps: drawn with cli-progress on a TTY (stderr), silent otherwise
 * (CI, pipes, `--json`). Every long loop takes a `Progress` so library code never touches the TTY.
 *
 * The ETA is honest: nothing is promised before the first unit is done (`eta …`, never `eta 0s`
 * at 0 %), then it is the mean time per unit so far times the units left. The bar redraws during
 * synchronous work too (cli-progress's synchronous update), so a loop that never yields still moves.
 */
import { SingleBar } from 'cli-progress';

export interface Progress {
  start(total: number, label: string): void;
  tick(n?: number): void;
  /** a short status shown after the bar (e.g. the last loss) */
  note?(text: string): void;
  stop(): void;
}

export const SILENT: Progress = { start() {}, tick() {}, note() {}, stop() {} };

/** m:ss or h:mm:ss */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** The ETA text for `done` of `total` units after `elapsed` seconds: `…` until a unit is done. */
export function etaText(done: number, total: number, elapsed: number): string {
  if (done <= 0 || total <= 0) return 'eta …';
  if (done >= total) return 'done';
  return `eta ${clock((elapsed / done) * (total - done))}`;
}

/** One line of a bar: label, bar, percentage, count, elapsed time, ETA and the note. */
export function barLine(label: string, done: number, total: number, elapsed: number, note = '', width = 24): string {
  const frac = total > 0 ? Math.min(1, done / total) : 0;
  const full = Math.round(frac * width);
  const bar = '\u2588'.repeat(full) + '\u2591'.repeat(width - full);
  return `${label} [${bar}] ${Math.floor(frac * 100)}% | ${done}/${total} | ${clock(elapsed)} (${etaText(done, total, elapsed)})${note ? ` | ${note}` : ''}`;
}

export function progressFor(stream: NodeJS.WriteStream = process.stderr, enabled = true): Progress {
  if (!enabled || !stream.isTTY || process.env.CI) return SILENT;
  let bar: SingleBar | null = null;
  let label = '';
  let note = '';
  let t0 = 0;
  return {
    start(total, l) {
      bar?.stop();
      label = l;
      note = '';
      t0 = Date.now();
      bar = new SingleBar({
        stream,
        hideCursor: true,
        synchronousUpdate: true,
        format: (_o, p) => barLine(label, p.value, p.total, (Date.now() - t0) / 1000, note),
      });
      bar.start(total, 0);
    },
    tick(n = 1) {
      bar?.increment(n);
    },
    note(text) {
      note = text;
      bar?.update({});
    },
    stop() {
      bar?.stop();
      bar = null;
    },
  };
}
