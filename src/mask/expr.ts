/**
 * Set algebra written as an expression over named masks, e.g. `en & it & !benign`, parsed with
 * mathjs's expression parser (loaded lazily — it takes about a second to load).
 *
 *   a & b, a and b  → a ∩ b        a | b, a or b → a ∪ b        a - b → a \ b
 *   !a, ~a, not a   → ¬a           a xor b       → a △ b        ( … ) grouping
 *
 * Names are mathjs symbols (letters, digits, `_`). Prefix `!` is not mathjs syntax (there it is the
 * postfix factorial), so it is rewritten to `~` before parsing.
 */
import { SilError } from '../errors';
import { and, difference, not, or, xor } from './algebra';

export type MaskExpr = { op: 'name'; name: string } | { op: 'not'; arg: MaskExpr } | { op: 'and' | 'or' | 'diff' | 'xor'; args: [MaskExpr, MaskExpr] };

const BINARY: Record<string, 'and' | 'or' | 'diff' | 'xor'> = { bitAnd: 'and', and: 'and', bitOr: 'or', or: 'or', subtract: 'diff', xor: 'xor', bitXor: 'xor' };

/** Rewrites prefix `!` (at the start, or after an operator, `(` or `,`) to `~`. */
export function rewritePrefixBang(src: string): string {
  let out = '';
  let prev = '';
  for (let i = 0; i < src.length; i++) {
    const ch = src[i];
    if (ch === '!' && src[i + 1] !== '=' && (prev === '' || /[&|(,~!\-^]/.test(prev) || /\b(and|or|not|xor)$/.test(out.trimEnd()))) {
      out += '~';
      prev = '~';
      continue;
    }
    out += ch;
    if (!/\s/.test(ch)) prev = ch;
  }
  return out;
}

interface MathNode {
  type: string;
  name?: string;
  fn?: string | MathNode;
  op?: string;
  args?: MathNode[];
  content?: MathNode;
}

function convert(n: MathNode, src: string): MaskExpr {
  switch (n.type) {
    case 'SymbolNode':
      return { op: 'name', name: n.name! };
    case 'ParenthesisNode':
      return convert(n.content!, src);
    case 'OperatorNode': {
      const fn = String(n.fn);
      const args = n.args ?? [];
      if ((fn === 'not' || fn === 'bitNot') && args.length === 1) return { op: 'not', arg: convert(args[0], src) };
      const op = BINARY[fn];
      if (op && args.length === 2) return { op, args: [convert(args[0], src), convert(args[1], src)] };
      throw new SilError('INVALID_ARGUMENT', `operator ${n.op} is not a mask operation in ${JSON.stringify(src)}; use & | - ! xor and parentheses`);
    }
    default:
      throw new SilError('INVALID_ARGUMENT', `${n.type} is not allowed in a mask expression ${JSON.stringify(src)}; use mask names, & | - ! xor and parentheses`);
  }
}

/** Parses a mask expression (mathjs is required here, on first use). */
export function parseMaskExpr(src: string): MaskExpr {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { parse } = require('mathjs') as { parse: (s: string) => MathNode };
  let node: MathNode;
  try {
    node = parse(rewritePrefixBang(src));
  } catch (e) {
    throw new SilError('INVALID_ARGUMENT', `cannot parse mask expression ${JSON.stringify(src)}: ${(e as Error).message}`);
  }
  return convert(node, src);
}

/** Mask names used by an expression, in first-use order. */
export function exprNames(e: MaskExpr, acc: string[] = []): string[] {
  if (e.op === 'name') {
    if (!acc.includes(e.name)) acc.push(e.name);
  } else if (e.op === 'not') exprNames(e.arg, acc);
  else for (const a of e.args) exprNames(a, acc);
  return acc;
}

/** Evaluates an expression on one tensor (or chunk): `lookup(name)` gives that mask's 0/1 values. */
export function evalMaskExpr(e: MaskExpr, lookup: (name: string) => Uint8Array): Uint8Array {
  switch (e.op) {
    case 'name':
      return lookup(e.name).slice();
    case 'not':
      return not(evalMaskExpr(e.arg, lookup));
    case 'and':
      return and(evalMaskExpr(e.args[0], lookup), evalMaskExpr(e.args[1], lookup));
    case 'or':
      return or(evalMaskExpr(e.args[0], lookup), evalMaskExpr(e.args[1], lookup));
    case 'diff':
      return difference(evalMaskExpr(e.args[0], lookup), evalMaskExpr(e.args[1], lookup));
    case 'xor':
      return xor(evalMaskExpr(e.args[0], lookup), evalMaskExpr(e.args[1], lookup));
  }
}

/** Expression text back from the tree (fully parenthesised), for manifests and messages. */
export function formatMaskExpr(e: MaskExpr): string {
  switch (e.op) {
    case 'name':
      return e.name;
    case 'not':
      return `!${formatMaskExpr(e.arg)}`;
    default: {
      const sym = { and: '&', or: '|', diff: '-', xor: 'xor' }[e.op];
      return `(${formatMaskExpr(e.args[0])} ${sym} ${formatMaskExpr(e.args[1])})`;
    }
  }
}
