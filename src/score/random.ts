/**
 * random score: seeded uniform values in [0, 1), counter-based so any chunk of any tensor can be
 * computed on its own, in any order, and always gives the same values:
 *
 *   s[name][i] = hash(seed, fnv1a(name), i) / 2²⁴      (24-bit uniforms, exact in float32)
 *
 * `hash` is a murmur3-style finalizer (fmix32) over the three words and the high part of i, so
 * values depend on the tensor's name, not on its position among the tensors.
 */

/** 32-bit FNV-1a of a string's UTF-16 code units. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3's fmix32 */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The 32-bit hash of (seed, tensor key, element index i). */
export function counterHash(seed: number, key: number, i: number): number {
  const hi = Math.floor(i / 4294967296);
  let h = fmix((seed ^ 0x9e3779b9) >>> 0);
  h = fmix((h ^ key) >>> 0);
  h = fmix((h ^ hi) >>> 0);
  return fmix((h + Math.imul(i >>> 0, 0x9e3779b1) + 1) >>> 0);
}

/** Uniform [0, 1) scores for elements [start, start + out.length) of tensor `name`. */
export function randomScore(seed: number, name: string, start: number, out: Float32Array): Float32Array {
  const key = fnv1a(name);
  const prefix = fmix((fmix((seed ^ 0x9e3779b9) >>> 0) ^ key) >>> 0);
  // counterHash with its first three rounds, which depend on i only through ⌊i / 2³²⌋, done once per run of equal ⌊i / 2³²⌋
  for (let j = 0; j < out.length;) {
    const hi = Math.floor((start + j) / 4294967296);
    const h = fmix((prefix ^ hi) >>> 0);
    const end = Math.min(out.length, (hi + 1) * 4294967296 - start);
    for (; j < end; j++) out[j] = (fmix((h + Math.imul((start + j) >>> 0, 0x9e3779b1) + 1) >>> 0) >>> 8) * 5.9604644775390625e-8;
  }
  return out;
}
