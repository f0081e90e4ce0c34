/** The localisation scores `sil sweep` compares (sweep.ts runs them): plain data, loaded without the runtime. */
export const SWEEP_METHODS = ['sil', 'snip', 'wanda', 'weightdiff', 'random'] as const;
