// @ts-check
/**
 * The bench:attr model: a random BF16 Llama checkpoint (hidden 1024, 16 query / 4 KV heads, FFN 2816,
 * vocab 32000, untied head; 8 layers ≈ 155.7M params) written to a folder; shared by bench/attr.js
 * and bench/profile.js.
 */
const fs = require('node:fs');
const path = require('node:path');
const { SafetensorsWriter } = require('../dist/io/writer');
const { llamaConfig, llamaShapes, paramCount } = require('./llama');

const V = 32000,
  H = 1024,
  F = 2816,
  NH = 16,
  NKV = 4,
  D = H / NH;

/** Small xorshift PRNG: deterministic random weights without holding them twice. */
function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

function writeModel(dir, layers) {
  const dims = { L: layers, H, F, V, heads: NH, kv: NKV, D };
  /** @type {Array<{name: string, dtype: 'BF16', shape: number[]}>} */
  const specs = llamaShapes(dims, true).map(([name, shape]) => ({ name, dtype: 'BF16', shape }));
  const config = llamaConfig(dims, { maxPositions: 4096, ropeScaling: null, bos: 1, eos: 2 });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const w = SafetensorsWriter.create(path.join(dir, 'model.safetensors'), specs, { format: 'pt' });
  const r = rng(12345);
  const a = 0.02 * Math.sqrt(3);
  for (const s of specs) {
    const n = s.shape.reduce((x, y) => x * y, 1);
    const data = new Float32Array(n);
    if (s.shape.length === 1) data.fill(1);
    else for (let i = 0; i < n; i++) data[i] = (2 * r() - 1) * a;
    w.write(s.name, data);
  }
  w.close();
  return paramCount(specs.map((s) => [s.name, s.shape]));
}

module.exports = { rng, writeModel, V, H, F, NH, NKV, D };
