/**
 * Model families as data (after mergekit's architecture JSONs): each `<family>.json` lists tensor
 * name templates (`${layer}` for the decoder layer index), the module kind of each tensor, and what
 * its axes mean (`rows`: the output axis — neurons, attention heads, hidden units or vocabulary).
 * Adding a family is adding a JSON file here and to `FAMILIES`.
 */
import llama from './llama.json';
import mistral from './mistral.json';
import qwen2 from './qwen2.json';

/** What an axis indexes: attention heads (head_dim rows each), FFN neurons, hidden units, tokens. */
export type AxisMeaning = 'heads' | 'kv_heads' | 'neurons' | 'hidden' | 'vocab';

export interface TensorTemplate {
  name: string;
  kind: string;
  rows: AxisMeaning;
  cols?: AxisMeaning;
  optional?: boolean;
  tiedTo?: string;
}

export interface Family {
  family: string;
  description: string;
  architectures: string[];
  tensors: TensorTemplate[];
  kinds_order: string[];
}

export interface TensorRole {
  /** decoder layer index, or null for embeddings, final norm and head */
  layer: number | null;
  /** module kind (embed, q, k, v, o, gate, up, down, input_norm, …); `other` when unknown */
  kind: string;
  rows: AxisMeaning | null;
  cols: AxisMeaning | null;
  /** family name, or null when the architecture (or this tensor) is not described */
  family: string | null;
}

export const FAMILIES: Family[] = [llama as Family, qwen2 as Family, mistral as Family];

interface Compiled {
  family: Family;
  matchers: Array<{ re: RegExp; t: TensorTemplate }>;
}

const compiled = new Map<string, Compiled>();

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function compile(f: Family): Compiled {
  return {
    family: f,
    matchers: f.tensors.map((t) => ({
      re: new RegExp('^' + escapeRe(t.name).replace(escapeRe('${layer}'), '(\\d+)') + '$'),
      t,
    })),
  };
}

export function familyFor(architecture: string | null | undefined): Family | null {
  if (!architecture) return null;
  return FAMILIES.find((f) => f.architectures.includes(architecture)) ?? null;
}

/**
 * The role of a tensor in its family. Unknown architectures or names get kind `other`, with the
 * layer taken from a `.layers.N.` / `.h.N.` / `.blocks.N.` segment when there is one, so deltas can
 * still be grouped by name.
 */
export function describeTensor(architecture: string | null | undefined, name: string): TensorRole {
  const f = familyFor(architecture);
  if (f) {
    let c = compiled.get(f.family);
    if (!c) compiled.set(f.family, (c = compile(f)));
    for (const { re, t } of c.matchers) {
      const m = re.exec(name);
      if (m) return { layer: m[1] !== undefined ? Number(m[1]) : null, kind: t.kind, rows: t.rows, cols: t.cols ?? null, family: f.family };
    }
  }
  const m = /\.(?:layers|h|blocks|layer)\.(\d+)\./.exec(name);
  return { layer: m ? Number(m[1]) : null, kind: 'other', rows: null, cols: null, family: null };
}

/** Module kinds in a stable display order for a family (unknown kinds appended, sorted). */
export function kindOrder(architecture: string | null | undefined, kinds: Iterable<string>): string[] {
  const base = familyFor(architecture)?.kinds_order ?? [];
  const rest = [...new Set(kinds)].filter((k) => !base.includes(k)).sort();
  return [...base.filter((k) => [...new Set(kinds)].includes(k)), ...rest];
}

/**
 * The architecture whose family names the most of these tensors (for files that do not say, such
 * as a mask); null when no family knows any of them.
 */
export function inferArchitecture(names: readonly string[]): string | null {
  let best: string | null = null;
  let most = 0;
  for (const f of FAMILIES) {
    const a = f.architectures[0];
    const n = names.filter((x) => describeTensor(a, x).kind !== 'other').length;
    if (n > most) {
      best = a;
      most = n;
    }
  }
  return best;
}
