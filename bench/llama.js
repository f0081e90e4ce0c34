// @ts-check
/**
 * What the benchmarks on Llama-shaped random checkpoints share (bench:locate, bench:scale): their
 * command-line options, and the checkpoint's config.json and tensor names and shapes.
 */

/** `opt('--name', default)`: the value after `--name` on this process's command line; `flag('--name')`: whether it is there. */
function cliOptions(args = process.argv.slice(2)) {
  return {
    /** @type {(name: string, dflt: string) => string} */
    opt: (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt),
    /** @type {(name: string) => boolean} */
    flag: (name) => args.includes(name),
  };
}

/**
 * Sizes: layers L, hidden H, FFN F, vocab V, query heads, KV heads kv, head dim D.
 * @typedef {{ L: number, H: number, F: number, V: number, heads: number, kv: number, D: number }} LlamaDims
 */

/**
 * config.json of a Llama checkpoint of these sizes: untied head, BF16, RoPE θ 500000.
 * @param {LlamaDims} d
 * @param {{ maxPositions: number, ropeScaling: object | null, bos: number, eos: number }} o
 */
function llamaConfig(d, o) {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: d.V,
    hidden_size: d.H,
    intermediate_size: d.F,
    num_hidden_layers: d.L,
    num_attention_heads: d.heads,
    num_key_value_heads: d.kv,
    head_dim: d.D,
    max_position_embeddings: o.maxPositions,
    rms_norm_eps: 1e-5,
    rope_theta: 500000.0,
    rope_scaling: o.ropeScaling,
    hidden_act: 'silu',
    tie_word_embeddings: false,
    torch_dtype: 'bfloat16',
    bos_token_id: o.bos,
    eos_token_id: o.eos,
  };
}

/**
 * Every tensor's name and shape, in the order written: embedding, each layer's (its two norms
 * before or after its projections, per `normsFirst`), final norm, lm_head.
 * @param {LlamaDims} d
 * @param {boolean} normsFirst
 * @returns {Array<[string, number[]]>}
 */
function llamaShapes(d, normsFirst) {
  const { L, H, F, V, heads, kv, D } = d;
  /** @type {Array<[string, number[]]>} */
  const shapes = [['model.embed_tokens.weight', [V, H]]];
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`;
    /** @type {Array<[string, number[]]>} */
    const norms = [
      [`${p}input_layernorm.weight`, [H]],
      [`${p}post_attention_layernorm.weight`, [H]],
    ];
    /** @type {Array<[string, number[]]>} */
    const linears = [
      [`${p}self_attn.q_proj.weight`, [heads * D, H]],
      [`${p}self_attn.k_proj.weight`, [kv * D, H]],
      [`${p}self_attn.v_proj.weight`, [kv * D, H]],
      [`${p}self_attn.o_proj.weight`, [H, heads * D]],
      [`${p}mlp.gate_proj.weight`, [F, H]],
      [`${p}mlp.up_proj.weight`, [F, H]],
      [`${p}mlp.down_proj.weight`, [H, F]],
    ];
    shapes.push(...(normsFirst ? [...norms, ...linears] : [...linears, ...norms]));
  }
  shapes.push(['model.norm.weight', [H]], ['lm_head.weight', [V, H]]);
  return shapes;
}

/** Parameters in all. @param {Array<[string, number[]]>} shapes */
const paramCount = (shapes) => shapes.reduce((a, [, s]) => a + s.reduce((x, y) => x * y, 1), 0);

module.exports = { cliOptions, llamaConfig, llamaShapes, paramCount };
