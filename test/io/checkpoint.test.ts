import * as path from 'node:path';
import { HF_TINY as FIX } from '../helpers/fixtures';
import { Checkpoint } from '../../src/io/checkpoint';
import { describeTensor } from '../../src/families';

describe('Checkpoint', () => {
  it('opens a sharded Qwen2 folder through its index and resolves the tied head to the embedding', () => {
    const ck = Checkpoint.open(path.join(FIX, 'qwen2-tiny-bf16-sharded/base'));
    expect(ck.files.length).toBe(7);
    expect(ck.names()).not.toContain('lm_head.weight');
    expect(ck.has('lm_head.weight')).toBe(true);
    expect(ck.readF32('lm_head.weight')).toEqual(ck.readF32('model.embed_tokens.weight'));
    expect(ck.info('model.layers.0.self_attn.q_proj.bias').shape).toEqual([64]);
    ck.close();
  });

  it('reads a contiguous element range equal to the same slice of the whole tensor', () => {
    const ck = Checkpoint.open(path.join(FIX, 'llama3-tiny-bf16/base'));
    const all = ck.readF32('model.layers.1.mlp.down_proj.weight');
    expect(ck.readF32('model.layers.1.mlp.down_proj.weight', 100, 357)).toEqual(all.subarray(100, 357));
    ck.close();
  });

  it('describes Llama tensors by layer and module kind from the family data', () => {
    expect(describeTensor('LlamaForCausalLM', 'model.layers.1.self_attn.k_proj.weight')).toMatchObject({ layer: 1, kind: 'k', rows: 'kv_heads' });
    expect(describeTensor('Qwen2ForCausalLM', 'model.layers.2.self_attn.v_proj.bias')).toMatchObject({ layer: 2, kind: 'v_bias' });
    expect(describeTensor('GPTNeoXForCausalLM', 'gpt_neox.layers.3.attention.dense.weight')).toMatchObject({ layer: 3, kind: 'other', family: null });
  });
});

describe('Checkpoint fingerprints', () => {
  it('tells a base from its attacked copy by content even though their headers are identical', () => {
    const base = Checkpoint.open(path.join(FIX, 'llama3-tiny-bf16/base'));
    const att = Checkpoint.open(path.join(FIX, 'llama3-tiny-bf16/attacked'));
    expect(base.headerSha256()).toBe(att.headerSha256());
    expect(base.contentSha256()).not.toBe(att.contentSha256());
    expect(base.contentSha256()).toBe(Checkpoint.open(path.join(FIX, 'llama3-tiny-bf16/base')).contentSha256());
    base.close();
    att.close();
  });
});
