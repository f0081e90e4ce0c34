/**
 * The memory planner: every decision about what fits where — the wasm heap, host RAM, a GPU's
 * memory — made up front from the config and the passes' shape, against one set of limits.
 *
 *   limits.ts    the constants (heap, RAM and device shares, binding limits) and the budgets:
 *                `ramBudget`, `instanceCap`, `deviceBudget`, `weightCacheBytes`, `bindingBytes`
 *   sizes.ts     parameter counts
 *   inmemory.ts  an in-memory pass: `inMemoryPassBytes`, `sequencesPerPass`, `inMemoryBytes`
 *   streamed.ts  a layer-streamed pass: `planStreaming` (its stage, boundaries, weight cache and
 *                vocabulary chunks), `sequencesPerStreamedGroup`, `defaultSequencesPerGroup`,
 *                `fitsOnDevice`, `formatPlan`
 *   decide.ts    how gradients run: `planGradients` (workers, in process or streamed) and
 *                `chooseStreaming` (`--stream always | never | auto`)
 */
export * from './decide';
export * from './inmemory';
export * from './limits';
export * from './sizes';
export * from './streamed';
