/**
 * Device memory for the `cuda` backend: a caching allocator over cuMemAlloc/cuMemFree. Freed blocks
 * go back to a free list keyed by their rounded size and are handed out again without a driver
 * call (cuMemFree also synchronises the device). All work runs on one stream, so a block released
 * while a queued kernel still reads it is only reused by later work in the same order.
 *
 * When an allocation fails, the cached blocks are returned to the driver and it is tried once more;
 * then OUT_OF_DEVICE_MEMORY names how much was asked for and how much is free.
 */
import { SilError } from '../errors';

export interface RawAllocator {
  /** a device address, or null when the device is out of memory */
  alloc(bytes: number): number | null;
  free(ptr: number): void;
  /** free and total device bytes */
  info(): { free: number; total: number };
}

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * The size a request is served with: 512-byte steps up to 64 KiB; then a quarter of the power of two
 * below (at most 25% more); above 64 MiB, 2 MiB steps (shapes repeat, so exact reuse is common).
 */
export function roundBlock(bytes: number): number {
  const n = Math.max(bytes, 1);
  if (n <= 64 * KiB) return Math.ceil(n / 512) * 512;
  if (n > 64 * MiB) return Math.ceil(n / (2 * MiB)) * 2 * MiB;
  const p = 2 ** Math.floor(Math.log2(n));
  const step = p / 4;
  return Math.ceil(n / step) * step;
}

export function formatBytes(b: number): string {
  if (b >= 2 ** 30) return `${(b / 2 ** 30).toFixed(2)} GiB`;
  if (b >= MiB) return `${(b / MiB).toFixed(1)} MiB`;
  return `${b} bytes`;
}

export class DevicePool {
  private readonly free = new Map<number, number[]>();
  private readonly sizes = new Map<number, number>();
  /** bytes handed out (rounded) */
  inUse = 0;
  /** bytes held in free lists */
  cached = 0;
  peak = 0;

  constructor(private readonly raw: RawAllocator) {}

  alloc(bytes: number): number {
    const size = roundBlock(bytes);
    const list = this.free.get(size);
    let ptr = list?.pop();
    if (ptr !== undefined) this.cached -= size;
    else {
      ptr = this.raw.alloc(size) ?? undefined;
      if (ptr === undefined) {
        this.trim();
        ptr = this.raw.alloc(size) ?? undefined;
      }
      if (ptr === undefined) {
        const { free, total } = this.raw.info();
        throw new SilError(
          'OUT_OF_DEVICE_MEMORY',
          `out of GPU memory: asked for ${formatBytes(size)}, ${formatBytes(free)} free of ${formatBytes(total)} (${formatBytes(this.inUse)} held by sil); try --stream always, a smaller --weight-cache, or a smaller batch`,
        );
      }
      this.sizes.set(ptr, size);
    }
    this.inUse += size;
    this.peak = Math.max(this.peak, this.inUse);
    return ptr;
  }

  release(ptr: number): void {
    const size = this.sizes.get(ptr);
    if (size === undefined) throw new Error(`release of an unknown device block ${ptr}`);
    this.inUse -= size;
    this.cached += size;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(ptr);
  }

  /** Returns every cached block to the driver. */
  trim(): void {
    for (const list of this.free.values()) {
      for (const p of list) {
        this.raw.free(p);
        this.sizes.delete(p);
      }
    }
    this.free.clear();
    this.cached = 0;
  }

  /** Frees everything (blocks still handed out included). */
  dispose(): void {
    for (const p of this.sizes.keys()) this.raw.free(p);
    this.sizes.clear();
    this.free.clear();
    this.inUse = 0;
    this.cached = 0;
  }
}
