/**
 * Gradient sums kept where the gradients are computed, across passes: pieces that arrive as tensors
 * (`addTensor`) are summed on the backend (GPU memory, no read-back per pass); pieces computed on the
 * host (the embedding's gathered rows) are summed in host arrays. `drain` reads every sum back once,
 * in a given tensor order, and frees it.
 *
 * Two fields: `grad` = Σ g and `absgrad` = Σ |g| (per-pass gradients; one example per pass gives the
 * per-example sums that snip needs). Sums are float32, added in pass order, so the same passes give
 * the same bits.
 */
import * as tf from '@tensorflow/tfjs';

export type SumField = 'grad' | 'absgrad';

interface Piece {
  name: string;
  start: number;
  /** one sum per field, in `fields` order */
  device: tf.Tensor[] | null;
  host: Float32Array[] | null;
}

export class GradSums {
  private readonly pieces = new Map<string, Piece>();

  constructor(readonly fields: readonly SumField[]) {
    if (fields.length === 0) throw new Error('GradSums needs at least one field');
  }

  private piece(name: string, start: number): Piece {
    const key = `${name}@${start}`;
    let p = this.pieces.get(key);
    if (!p) this.pieces.set(key, (p = { name, start, device: null, host: null }));
    return p;
  }

  /** Adds a gradient piece held on the backend; takes ownership of `g`. */
  addTensor(name: string, start: number, g: tf.Tensor): void {
    const p = this.piece(name, start);
    const flat = tf.reshape(g, [-1]);
    g.dispose();
    const terms = this.fields.map((f) => (f === 'grad' ? flat : tf.abs(flat)));
    if (!this.fields.includes('grad')) flat.dispose();
    if (!p.device) p.device = terms.map((t) => tf.keep(t));
    else {
      const prev = p.device;
      p.device = prev.map((s, k) => tf.keep(tf.add(s, terms[k])));
      tf.dispose([...prev, ...terms]);
    }
  }

  /**
   * The sum of whole tensor `name` on the backend, for a kernel to add that tensor's next gradient
   * into in place (the streamed pass's `deviceSums`): only with the single field `grad` (Σ|g| needs
   * |g| first) and once a first gradient has made the sum; else undefined.
   */
  inPlace(name: string): tf.Tensor | undefined {
    if (this.fields.length !== 1 || this.fields[0] !== 'grad') return undefined;
    return this.pieces.get(`${name}@0`)?.device?.[0];
  }

  /**
   * The sum of whole tensor `name` (`total` elements) on the backend, made as zeros if there is none
   * yet, for a kernel to add gradient rows into in place (the streamed pass's `deviceRowSums`): only
   * with the single field `grad`; else undefined.
   */
  rowsInPlace(name: string, total: number): tf.Tensor | undefined {
    if (this.fields.length !== 1 || this.fields[0] !== 'grad') return undefined;
    const p = this.piece(name, 0);
    // filled on the backend: tf.zeros would build (and upload) a host array of the tensor's size
    if (!p.device) p.device = [tf.keep(tf.fill([total], 0))];
    return p.device[0];
  }

  /** Adds a gradient piece computed on the host (the array is not kept). */
  addHost(name: string, start: number, g: Float32Array): void {
    const p = this.piece(name, start);
    if (!p.host) p.host = this.fields.map(() => new Float32Array(g.length));
    this.fields.forEach((f, k) => {
      const s = p.host![k];
      if (f === 'grad') for (let i = 0; i < g.length; i++) s[i] += g[i];
      else for (let i = 0; i < g.length; i++) s[i] += Math.abs(g[i]);
    });
  }

  /**
   * Adds the gradient rows `rows` (ascending; `data` is rows.length × width) of the 2-D tensor `name`
   * with `total` elements, summed on the host into one whole-tensor piece.
   */
  addRows(name: string, total: number, rows: Int32Array, data: Float32Array): void {
    const p = this.piece(name, 0);
    if (!p.host) p.host = this.fields.map(() => new Float32Array(total));
    const width = rows.length > 0 ? data.length / rows.length : 0;
    this.fields.forEach((f, k) => {
      const s = p.host![k];
      for (let r = 0; r < rows.length; r++) {
        const dst = rows[r] * width;
        const src = r * width;
        if (f === 'grad') for (let j = 0; j < width; j++) s[dst + j] += data[src + j];
        else for (let j = 0; j < width; j++) s[dst + j] += Math.abs(data[src + j]);
      }
    });
  }

  /** names with at least one piece */
  names(): Set<string> {
    return new Set([...this.pieces.values()].map((p) => p.name));
  }

  /**
   * Hands every sum to `consume` (field, tensor name, first element, values), tensors in `order`
   * (pieces of one tensor by first element), and empties the sums.
   */
  async drain(order: readonly string[], consume: (field: SumField, name: string, start: number, data: Float32Array) => void | Promise<void>): Promise<void> {
    const rank = new Map(order.map((n, i) => [n, i]));
    const list = [...this.pieces.values()].sort((a, b) => (rank.get(a.name) ?? Infinity) - (rank.get(b.name) ?? Infinity) || a.start - b.start);
    this.pieces.clear();
    try {
      for (const p of list) {
        for (let k = 0; k < this.fields.length; k++) {
          let data: Float32Array | null = null;
          if (p.device) {
            data = (await p.device[k].data()) as Float32Array;
            p.device[k].dispose();
          }
          const h = p.host?.[k];
          if (h) {
            if (data) for (let i = 0; i < h.length; i++) data[i] += h[i];
            else data = h;
          }
          await consume(this.fields[k], p.name, p.start, data!);
        }
        p.device = null;
      }
    } finally {
      for (const p of list) if (p.device) tf.dispose(p.device);
    }
  }

  dispose(): void {
    for (const p of this.pieces.values()) if (p.device) tf.dispose(p.device);
    this.pieces.clear();
  }
}
