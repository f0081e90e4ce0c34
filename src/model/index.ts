/**
 * The model runtime: Llama / Qwen2 / Mistral forward and backward in TF.js, matching PyTorch.
 *
 * Main entry points:
 * - `parseModelConfig(configJson)` → `ModelConfig` (transformers 4.x and 5.x config forms; throws
 *   SilError naming any unsupported architecture or option).
 * - `await useBackend('auto' | 'wasm' | 'cpu' | 'tensorflow' | 'webgpu')` → `{ name, note }`: sets the
 *   TF.js backend; report `name` in outputs. `backendAvailability(name)` says why one is unusable.
 * - `CausalLM.fromCheckpoint(Checkpoint.open(dir))` loads every weight (decoded to f32);
 *   `CausalLM.fromSource(cfg, source)` takes any `WeightSource` (`readF32(name)`).
 *   - `model.logits(batch)` → Float32Array [B, T, vocab]
 *   - `model.lossAndGrads(batch, denominator?)` → `{ loss, count, grads }`, grads keyed by
 *     checkpoint tensor names (tied head folded into the embedding), in `allParamNames` order.
 *   - `model.dispose()` frees the weights.
 *   A batch is `{ input_ids, attention_mask, labels }` (B×T, right padding, −100 = no loss).
 * - `gradParallel(modelDir, batch, { workers })` (parallel.ts): data-parallel wasm workers (from
 *   dist/), gradients summed; what `sil grad` uses on wasm.
 * - Layer-wise pieces for streaming: `embed` / `embeddingGrad`, `decoderLayer` / `decoderLayerVJP`
 *   (the one decoder block, with hooks for input capture and a KV cache), `head`, `makeContext`,
 *   and `Weights.loadNames` / `release` per layer.
 * - `modelOps()` (ops.ts): rmsNorm, rope, swiglu, attention and crossEntropy as the current backend
 *   computes them; `registerModelOps(backend, ops)` puts fused kernels in their place.
 */
export * from './attention';
export * from './backend';
export * from './batch';
export * from './config';
export * from './embedding';
export * from './layer';
export * from './linear';
export * from './loss';
export * from './model';
export * from './names';
export * from './norm';
export * from './ops';
export * from './rope';
export * from './weights';
export * from './parallel';
