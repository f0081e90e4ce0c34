#!/usr/bin/env node
// @ts-check
/**
 * Writes the small checkpoint pair shipped in weights/tiny/: a Llama-shaped model (vocab 256,
 * hidden 32, 2 layers, 4 query / 2 KV heads, FFN 64, untied head) stored in BF16, as `base/`, and
 * an `attacked/` copy with seeded perturbations — small everywhere, larger in layer 1's MLP and
 * attention output, none in the norms. Deterministic: same seed, same bytes.
 *
 *   node scripts/make-tiny.js [--out weights/tiny] [--seed 20261129]
 *
 * Runs from the compiled writer (npm run build first).
 */
const fs = require('node:fs');
const path = require('node:path');
const { writeSafetensors } = require('../dist/io/writer');

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const out = path.resolve(opt('--out', path.join(__dirname, '../weights/tiny')));
const seed = Number(opt('--seed', '20261129'));

/** mulberry32 PRNG, and a normal variate via Box–Muller. */
function rng(s) {
  let a = s >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { u, normal: () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u()) };
}

const cfg = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: 256,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 256,
  rms_norm_eps: 1e-5,
  rope_theta: 500000.0,
  rope_scaling: null,
  hidden_act: 'silu',
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  bos_token_id: 1,
  eos_token_id: 2,
};

const H = cfg.hidden_size,
  F = cfg.intermediate_size,
  V = cfg.vocab_size;
const hd = H / cfg.num_attention_heads,
  kv = cfg.num_key_value_heads * hd;
/** @type {Array<[string, number[]]>} */
const shapes = [['model.embed_tokens.weight', [V, H]]];
for (let l = 0; l < cfg.num_hidden_layers; l++) {
  const p = `model.layers.${l}.`;
  shapes.push(
    [p + 'self_attn.q_proj.weight', [H, H]],
    [p + 'self_attn.k_proj.weight', [kv, H]],
    [p + 'self_attn.v_proj.weight', [kv, H]],
    [p + 'self_attn.o_proj.weight', [H, H]],
    [p + 'mlp.gate_proj.weight', [F, H]],
    [p + 'mlp.up_proj.weight', [F, H]],
    [p + 'mlp.down_proj.weight', [H, F]],
    [p + 'input_layernorm.weight', [H]],
    [p + 'post_attention_layernorm.weight', [H]],
  );
}
shapes.push(['model.norm.weight', [H]], ['lm_head.weight', [V, H]]);
shapes.sort((a, b) => (a[0] < b[0] ? -1 : 1)); // Hugging Face stores tensors sorted by name

const r = rng(seed);
const base = [],
  attacked = [];
for (const [name, shape] of shapes) {
  const n = shape.reduce((a, b) => a * b, 1);
  const isNorm = shape.length === 1;
  const w = new Float32Array(n).map(() => (isNorm ? 1 : 0.02 * r.normal()));
  const scale = isNorm ? 0 : /layers\.1\.(mlp|self_attn\.o_proj)/.test(name) ? 0.01 : 0.002;
  const a = w.map((x) => (scale > 0 && r.u() < 0.9 ? x + scale * r.normal() : x));
  base.push({ name, dtype: /** @type {const} */ ('BF16'), shape, data: w });
  attacked.push({ name, dtype: /** @type {const} */ ('BF16'), shape, data: a });
}

for (const [sub, tensors] of /** @type {const} */ ([
  ['base', base],
  ['attacked', attacked],
])) {
  const dir = path.join(out, sub);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
}
process.stdout.write(`wrote ${path.relative(process.cwd(), out) || '.'}/{base,attacked} (${shapes.length} tensors, seed ${seed})\n`);
