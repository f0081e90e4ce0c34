/** How rows and columns are ordered in every figure: module kinds as the model families list them, languages as the run lists them. */
import { FAMILIES } from '../families';

const KIND_ORDER: string[] = [];
for (const f of FAMILIES) for (const k of f.kinds_order) if (!KIND_ORDER.includes(k)) KIND_ORDER.push(k);

/** Distinct kinds in family order (embed, q, k, v, o, gate, up, down, norms, biases, …); unknown kinds last, alphabetically. */
export function orderKinds(kinds: Iterable<string>): string[] {
  const set = [...new Set(kinds)];
  const rank = (k: string) => {
    const i = KIND_ORDER.indexOf(k);
    return i < 0 ? KIND_ORDER.length : i;
  };
  return set.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** Mask names that are not languages. */
export const BASELINES = ['benign', 'random', 'intersection', 'union'] as const;

export function isLanguage(name: string): boolean {
  return !(BASELINES as readonly string[]).includes(name) && name !== 'none';
}

/**
 * Distinct languages: those of `preferred` (the manifest's `languages`) first, in its order, then
 * the others in order of first appearance.
 */
export function orderLanguages(seen: Iterable<string>, preferred?: unknown): string[] {
  const all = [...new Set(seen)].filter(isLanguage);
  const pref = Array.isArray(preferred) ? preferred.filter((l): l is string => typeof l === 'string') : [];
  return [...pref.filter((l) => all.includes(l)), ...all.filter((l) => !pref.includes(l))];
}
