// @ts-check
/**
 * The bench:attr model: a random BF16 Llama checkpoint (hidden 1024, 16 query / 4 KV heads, FFN 2816,
 * vocab 32000, untied head; 8 layers ≈ 155.7M params) written to a folder; shared by bench/attr.js
 * and bench/profile.js.
 */
const fs = require('node:fs');
const path = require('node:path');
const { SafetensorsWriter } = require('../dist/io/writer');

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
  /** @type {Array<{name: string, dtype: 'BF16', shape: number[]}>} */
  const specs = [{ name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [V, H] }];
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`;
    /** @type {Array<[string, number[]]>} */
    const t = [
      ['input_layernorm.weight', [H]],
      ['post_attention_layernorm.weight', [H]],
      ['self_attn.q_proj.weight', [NH * D, H]],
      ['self_attn.k_proj.weight', [NKV * D, H]],
      ['self_attn.v_proj.weight', [NKV * D, H]],
      ['self_attn.o_proj.weight', [H, NH * D]],
      ['mlp.gate_proj.weight', [F, H]],
      ['mlp.up_proj.weight', [F, H]],
      ['mlp.down_proj.weight', [H, F]],
    ];
    for (const [n, shape] of t) specs.push({ name: p + n, dtype: 'BF16', shape });
  }
  specs.push({ name: 'model.norm.weight', dtype: 'BF16', shape: [H] }, { name: 'lm_head.weight', dtype: 'BF16', shape: [V, H] });
  const config = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: V,
    hidden_size: H,
    intermediate_size: F,
    num_hidden_layers: layers,
    num_attention_heads: NH,
    num_key_value_heads: NKV,
    rms_norm_eps: 1e-5,
    rope_theta: 500000.0,
    hidden_act: 'silu',
    tie_word_embeddings: false,
    torch_dtype: 'bfloat16',
    max_position_embeddings: 4096,
  };
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
  return specs.reduce((acc, s) => acc + s.shape.reduce((x, y) => x * y, 1), 0);
}

module.exports = { rng, writeModel, V, H, F, NH, NKV, D };
