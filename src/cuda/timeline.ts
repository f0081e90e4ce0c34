/**
 * GPU time per device call, measured on the GPU with CUDA events (SIL_CUDA_PROFILE=device): an
 * event is recorded before and after every kernel launch and cuBLAS product, on the same stream,
 * without synchronising, so the pass runs as it does unprofiled (the host issues two more driver
 * calls per device call). The pairs are read (cuEventElapsedTime) in batches and summed per kernel
 * name or product shape; the table goes to stderr at exit, products with their TFLOP/s.
 * `resetKernelProfile` (registry.ts) empties it, e.g. after a benchmark's cold first pass.
 */
import type { CudaApis } from './ffi';

interface Row {
  calls: number;
  ms: number;
  flops: number;
}

/** events awaiting their reading before the batch is read */
const BATCH = 2048;

export class Timeline {
  private readonly free: unknown[] = [];
  private readonly pending: Array<{ key: string; flops: number; a: unknown; b: unknown }> = [];
  private readonly rows = new Map<string, Row>();
  /** GPU idle time before a call (from the previous call's end), summed per the call's key */
  private readonly idle = new Map<string, number>();
  /** the end event of the last call read, kept to time the gap before the next */
  private lastEnd: unknown = null;
  /** host milliseconds per key: since the previous call was issued (host work before this one), and inside the call */
  private readonly host = new Map<string, { before: number; inside: number }>();
  private lastIssued = 0;

  constructor(private readonly api: CudaApis) {
    process.on('exit', () => this.print());
  }

  private event(): unknown {
    const e = this.free.pop();
    if (e) return e;
    const out = [null];
    if (this.api.cu.cuEventCreate(out, 0) !== 0) throw new Error('cuEventCreate failed');
    return out[0];
  }

  /** Runs `issue` (one device call, queued) between two recorded events. */
  around(key: string, flops: number, issue: () => void): void {
    const a = this.event();
    const b = this.event();
    const t0 = performance.now();
    this.api.cu.cuEventRecord(a, null);
    issue();
    this.api.cu.cuEventRecord(b, null);
    const t1 = performance.now();
    const h = this.host.get(key) ?? { before: 0, inside: 0 };
    if (this.lastIssued) h.before += t0 - this.lastIssued;
    h.inside += t1 - t0;
    this.host.set(key, h);
    this.lastIssued = t1;
    this.pending.push({ key, flops, a, b });
    if (this.pending.length >= BATCH) this.read();
  }

  /** Waits for the recorded pairs and adds their times to the table. */
  read(): void {
    if (this.pending.length === 0) return;
    const last = this.pending[this.pending.length - 1];
    this.api.cu.cuEventSynchronize(last.b);
    const ms = [0];
    for (const p of this.pending) {
      if (this.lastEnd) {
        this.api.cu.cuEventElapsedTime(ms, this.lastEnd, p.a);
        this.idle.set(p.key, (this.idle.get(p.key) ?? 0) + ms[0]);
        this.free.push(this.lastEnd);
      }
      this.lastEnd = p.b;
      this.api.cu.cuEventElapsedTime(ms, p.a, p.b);
      const r = this.rows.get(p.key) ?? { calls: 0, ms: 0, flops: 0 };
      r.calls++;
      r.ms += ms[0];
      r.flops += p.flops;
      this.rows.set(p.key, r);
      this.free.push(p.a);
    }
    this.pending.length = 0;
  }

  reset(): void {
    this.read();
    this.rows.clear();
    this.idle.clear();
    this.host.clear();
  }

  print(): void {
    try {
      this.read();
    } catch {
      return;
    }
    const rows = [...this.rows.entries()].sort((x, y) => y[1].ms - x[1].ms);
    const total = rows.reduce((a, [, r]) => a + r.ms, 0);
    const gemm = rows.filter(([k]) => k.startsWith('gemm')).reduce((a, [, r]) => a + r.ms, 0);
    process.stderr.write(`cuda device profile (CUDA events): ${(total / 1e3).toFixed(3)} s of GPU time, ${(gemm / 1e3).toFixed(3)} s in products:\n`);
    for (const [k, r] of rows.slice(0, 45)) {
      const rate = r.flops > 0 ? ` ${(r.flops / (r.ms / 1e3) / 1e12).toFixed(0).padStart(5)} TFLOP/s` : '';
      process.stderr.write(`  ${k.padEnd(58)} ${String(r.calls).padStart(7)} calls ${(r.ms / 1e3).toFixed(4).padStart(9)} s${rate}\n`);
    }
    // the GPU waiting between calls (for the host, a copy or a synchronisation), by the call that followed
    const gaps = [...this.idle.entries()].sort((x, y) => y[1] - x[1]);
    const idle = gaps.reduce((a, [, ms]) => a + ms, 0);
    // with the host's time since the previous call was issued and inside this call (a blocking call shows there)
    process.stderr.write(`GPU idle between calls: ${(idle / 1e3).toFixed(3)} s; before (GPU idle, host before, host inside):\n`);
    const sec = (ms: number) => (ms / 1e3).toFixed(4).padStart(9);
    for (const [k, ms] of gaps.slice(0, 15)) {
      const h = this.host.get(k) ?? { before: 0, inside: 0 };
      process.stderr.write(`  ${k.padEnd(58)} ${sec(ms)} s ${sec(h.before)} s ${sec(h.inside)} s\n`);
    }
  }
}

let shared: Timeline | null | undefined;

/** The process's timeline when SIL_CUDA_PROFILE=device, else null. */
export function timeline(api: CudaApis): Timeline | null {
  if (shared === undefined) shared = process.env.SIL_CUDA_PROFILE === 'device' ? new Timeline(api) : null;
  return shared;
}

/** Empties the timeline's table (no-op without one). */
export function resetTimeline(): void {
  shared?.reset();
}
