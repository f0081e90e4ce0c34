/**
 * Per-command loading. `sil` starts with the command definitions only; a command's implementation,
 * and what it brings (TF.js, the tokenizer, the report renderers), is loaded when that command
 * runs. `sil --help`, a usage error or `sil mask stats` then start without the model runtime.
 *
 *   const { evaluate } = load<typeof import('../eval/evaluate')>('../eval/evaluate');
 *
 * The path is relative to src/cli/ (the type names the same module, so tsc checks that it exists).
 */
export function load<M>(id: string): M {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(id) as M;
}
