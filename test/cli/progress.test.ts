/**
 * Progress bars: an ETA only once a unit is done (never "eta 0s" at 0 %), equal to the mean time
 * per unit times the units left; bars that redraw during synchronous work; one bar per pass over
 * the scores in a global selection.
 */
import { Writable } from 'node:stream';
import { barLine, clock, etaText, progressFor, type Progress } from '../../src/progress';
import { withPassProgress } from '../../src/locate/masks';
import { selectMasks } from '../../src/select/stream';

describe('progress', () => {
  it('promises no ETA before the first unit, then the mean time per unit times the units left', () => {
    expect(etaText(0, 12, 0)).toBe('eta …');
    expect(etaText(0, 12, 30)).toBe('eta …');
    expect(etaText(3, 12, 30)).toBe('eta 1:30');
    expect(etaText(12, 12, 40)).toBe('done');
    expect(clock(3725)).toBe('1:02:05');
    expect(barLine('eval', 0, 4, 0, '', 8)).toBe('eval [░░░░░░░░] 0% | 0/4 | 0:00 (eta …)');
    expect(barLine('finetune', 1, 4, 10, 'loss 1.2000', 8)).toBe('finetune [██░░░░░░] 25% | 1/4 | 0:10 (eta 0:30) | loss 1.2000');
  });

  it('redraws a bar on a TTY while a synchronous loop runs, with the ETA after the first unit', () => {
    const writes: string[] = [];
    const tty = Object.assign(
      new Writable({
        write(chunk, _enc, cb) {
          writes.push(String(chunk));
          cb();
        },
      }),
      { isTTY: true, columns: 200, cursorTo: () => true, clearLine: () => true, moveCursor: () => true },
    ) as unknown as NodeJS.WriteStream;
    const ci = process.env.CI;
    delete process.env.CI;
    try {
      const p = progressFor(tty);
      p.start(5, 'work');
      for (let i = 0; i < 5; i++) {
        const until = Date.now() + 250;
        while (Date.now() < until); // synchronous work: no timer can fire
        p.tick();
      }
      p.stop();
    } finally {
      if (ci !== undefined) process.env.CI = ci;
    }
    const text = writes.join('');
    expect(text).toContain('work [');
    expect(text).toContain('0% | 0/5 | 0:00 (eta …)');
    expect(text).not.toMatch(/ 0% \| 0\/5 \| [0-9:]+ \(eta 0:00\)/);
    // intermediate states were drawn during the loop, each with an ETA
    const mids = [...text.matchAll(/\| ([1-4])\/5 \| [0-9:]+ \(eta ([0-9:]+)\)/g)];
    expect(mids.length).toBeGreaterThanOrEqual(3);
    for (const m of mids) expect(m[2]).not.toBe('…');
  });

  it('a global selection shows one bar per pass over the scores, each counting every score', () => {
    const events: string[] = [];
    const rec: Progress = { start: (t, l) => events.push(`start ${l} ${t}`), tick: (n = 1) => events.push(`tick ${n}`), stop: () => events.push('stop') };
    const tensors = [
      { name: 'a', shape: [4], numel: 4 },
      { name: 'b', shape: [6], numel: 6 },
    ];
    const data: Record<string, Float32Array> = { a: new Float32Array([1, 2, 3, 4]), b: new Float32Array([5, 6, 7, 8, 9, 10]) };
    const src = withPassProgress({ tensors, chunks: (t) => [data[t.name]] }, rec, 'selection en');
    const sel = selectMasks(src, 0.3, 'global', () => {});
    src.end();
    const starts = events.filter((e) => e.startsWith('start'));
    expect(starts).toEqual(Array.from({ length: sel.passes }, (_, i) => `start selection en: pass ${i + 1} over the scores 10`));
    expect(events.filter((e) => e === 'stop')).toHaveLength(sel.passes);
    // between two starts, the ticks add up to the 10 scores
    let sum = 0;
    for (const e of events) {
      if (e.startsWith('tick')) sum += Number(e.split(' ')[1]);
      if (e === 'stop') {
        expect(sum).toBe(10);
        sum = 0;
      }
    }
  });
});
