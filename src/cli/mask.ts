/**
 * `sil mask stats|convert|invert|eval`: mask file utilities (src/mask/). Every output is written
 * atomically; inputs are checked to be 0/1 masks with matching tensor names and shapes.
 */
import * as path from 'node:path';
import type { Command } from 'commander';
import { SilError } from '../errors';
import { not } from '../mask/algebra';
import { evalMaskExpr, exprNames, formatMaskExpr, parseMaskExpr } from '../mask/expr';
import { countOnes } from '../mask/mask';
import { type MaskEncoding, type MaskFile, MaskWriter, withMaskFiles } from '../mask/maskfile';
import { claimOutput, prepareOutputFile } from '../io/outpath';
import { participation, type Scope } from '../score/scope';
import { inferArchitecture } from '../families';

function encodingOf(s: string | undefined, fallback: MaskEncoding): MaskEncoding {
  if (s === undefined) return fallback;
  if (s !== 'u8' && s !== 'bitpack') throw new SilError('INVALID_ARGUMENT', `--to must be u8 or bitpack, got ${JSON.stringify(s)}`);
  return s;
}

/** Reads every tensor of `inputs[0]`'s layout from each input, checking names and shapes agree. */
function checkLayouts(files: MaskFile[]): void {
  const [ref, ...rest] = files;
  for (const f of rest) {
    for (const n of ref.names()) {
      if (!f.has(n)) throw new SilError('MASK_MISMATCH', `tensor is in ${ref.path} but not in this mask`, { file: f.path, tensor: n });
      if (f.shape(n).join(',') !== ref.shape(n).join(',')) {
        throw new SilError('MASK_MISMATCH', `shape [${f.shape(n).join(', ')}] differs from [${ref.shape(n).join(', ')}] in ${ref.path}`, { file: f.path, tensor: n });
      }
    }
    const extra = f.names().find((n) => !ref.has(n));
    if (extra !== undefined) throw new SilError('MASK_MISMATCH', `tensor is not in ${ref.path}`, { file: f.path, tensor: extra });
  }
}

/** Writes a mask with `ref`'s layout, tensor by tensor, from `make(name)`. */
function writeLike(ref: MaskFile, out: string, encoding: MaskEncoding, make: (name: string) => Uint8Array, metadata: Record<string, string> = {}): { selected: number; total: number } {
  const tensors = ref.names().map((name) => ({ name, shape: ref.shape(name) }));
  const w = new MaskWriter(out, tensors, encoding, metadata);
  let selected = 0;
  let total = 0;
  try {
    for (const t of tensors) {
      const d = make(t.name);
      selected += countOnes(d);
      total += d.length;
      w.write(t.name, d);
    }
    w.close();
  } catch (e) {
    w.abort();
    throw e;
  }
  return { selected, total };
}

export interface MaskStats {
  file: string;
  encoding: MaskEncoding;
  tensors: number;
  selected: number;
  /** every entry of the mask: all stored parameters of the checkpoint */
  total: number;
  /** selected / total */
  fraction: number;
  /** the entries in the scope the mask was selected from (its metadata's `scope`), when the mask says */
  scope?: string;
  in_scope?: number;
  /** selected / in_scope: the k of `sil locate` */
  fraction_of_scope?: number;
  per_tensor?: Array<{ tensor: string; shape: number[]; selected: number; numel: number; fraction: number }>;
}

export function maskStats(file: string, perTensor = false): MaskStats {
  return withMaskFiles([file], ([m]) => {
    let selected = 0;
    let total = 0;
    const rows: NonNullable<MaskStats['per_tensor']> = [];
    for (const name of m.names()) {
      const d = m.read(name);
      const s = countOnes(d);
      selected += s;
      total += d.length;
      if (perTensor) rows.push({ tensor: name, shape: m.shape(name), selected: s, numel: d.length, fraction: d.length ? s / d.length : 0 });
    }
    const meta = m.file.metadata;
    let scoped: Pick<MaskStats, 'scope' | 'in_scope' | 'fraction_of_scope'> = {};
    if (meta.scope === 'linear' || meta.scope === 'all') {
      const scope = meta.scope as Scope;
      let inScope = 0;
      const arch = inferArchitecture(m.names());
      for (const name of m.names()) if (participation(arch, name, scope) !== 'out') inScope += m.shape(name).reduce((a, b) => a * b, 1);
      scoped = { scope, in_scope: inScope, fraction_of_scope: inScope ? selected / inScope : 0 };
    }
    return { file, encoding: m.encoding, tensors: m.names().length, selected, total, fraction: total ? selected / total : 0, ...scoped, ...(perTensor ? { per_tensor: rows } : {}) };
  });
}

/** Resolves expression names: explicit `name=path` bindings first, else `<dir>/<name>.safetensors`. */
export function resolveMaskNames(names: string[], bindings: string[], dir: string): Map<string, string> {
  const bound = new Map<string, string>();
  for (const b of bindings) {
    const i = b.indexOf('=');
    if (i <= 0) throw new SilError('INVALID_ARGUMENT', `--mask takes name=path, got ${JSON.stringify(b)}`);
    bound.set(b.slice(0, i), b.slice(i + 1));
  }
  return new Map(names.map((n) => [n, bound.get(n) ?? path.join(dir, `${n}.safetensors`)]));
}

export function evalMaskCommand(expr: string, out: string, o: { dir?: string; mask?: string[]; bitpack?: boolean; force?: boolean }): { selected: number; total: number; expression: string } {
  const e = parseMaskExpr(expr);
  const files = resolveMaskNames(exprNames(e), o.mask ?? [], o.dir ?? '.');
  const release = claimOutput(prepareOutputFile({ out, inputs: [...files.values()], force: o.force }), 'mask eval');
  const order = [...files.keys()];
  try {
    return evalInto(e, out, o, files, order);
  } finally {
    release();
  }
}

function evalInto(e: ReturnType<typeof parseMaskExpr>, out: string, o: { bitpack?: boolean }, files: Map<string, string>, order: string[]): { selected: number; total: number; expression: string } {
  return withMaskFiles([...files.values()], (ms) => {
    checkLayouts(ms);
    const byName = new Map(order.map((n, i) => [n, ms[i]]));
    const r = writeLike(ms[0], out, o.bitpack ? 'bitpack' : 'u8', (tensor) => evalMaskExpr(e, (n) => byName.get(n)!.read(tensor)), { expression: formatMaskExpr(e) });
    return { ...r, expression: formatMaskExpr(e) };
  });
}

function print(json: boolean | undefined, obj: object, text: string): void {
  process.stdout.write(json ? JSON.stringify(obj) + '\n' : text + '\n');
}

export function registerMask(program: Command): void {
  const mask = program.command('mask').description('mask files: statistics, U8 ↔ bitpack, complement, set algebra');

  mask
    .command('stats')
    .description('selected entries per mask (and per tensor with --tensors)')
    .argument('<files...>', 'mask files')
    .option('--tensors', 'per-tensor counts')
    .option('--json', 'JSON lines, one per mask')
    .action((files: string[], o: { tensors?: boolean; json?: boolean }) => {
      for (const f of files) {
        const s = maskStats(f, o.tensors);
        const scope = s.in_scope === undefined ? '' : `; ${(100 * s.fraction_of_scope!).toFixed(4)}% of the ${s.in_scope} in scope (--scope ${s.scope}: the denominator of locate's k)`;
        const lines = [`${f}: ${s.selected} selected = ${(100 * s.fraction).toFixed(4)}% of all ${s.total} parameters${scope}; ${s.tensors} tensors, ${s.encoding}`];
        for (const t of s.per_tensor ?? []) lines.push(`  ${t.tensor} [${t.shape.join(', ')}]: ${t.selected}/${t.numel} (${(100 * t.fraction).toFixed(4)}%)`);
        print(o.json, s, lines.join('\n'));
      }
    });

  mask
    .command('convert')
    .description('U8 ↔ bitpacked (default: the other encoding)')
    .argument('<in>', 'mask file')
    .requiredOption('--out <file>', 'output mask file')
    .option('--to <encoding>', 'u8 or bitpack')
    .option('--force', 'overwrite an existing output file')
    .option('--json', 'print a JSON summary')
    .action((input: string, o: { out: string; to?: string; json?: boolean; force?: boolean }) => {
      const release = claimOutput(prepareOutputFile({ out: o.out, inputs: [input], force: o.force }), 'mask convert');
      let r;
      try {
        r = withMaskFiles([input], ([m]) => {
          const to = encodingOf(o.to, m.encoding === 'u8' ? 'bitpack' : 'u8');
          return { to, ...writeLike(m, o.out, to, (n) => m.read(n)) };
        });
      } finally {
        release();
      }
      print(o.json, { in: input, out: o.out, ...r }, `${input} → ${o.out} (${r.to}, ${r.selected} of ${r.total} selected)`);
    });

  mask
    .command('invert')
    .description('the complement ¬γ (e.g. the entries to freeze when γ marks the entries to train)')
    .argument('<in>', 'mask file')
    .requiredOption('--out <file>', 'output mask file')
    .option('--to <encoding>', 'u8 or bitpack (default: as the input)')
    .option('--force', 'overwrite an existing output file')
    .option('--json', 'print a JSON summary')
    .action((input: string, o: { out: string; to?: string; json?: boolean; force?: boolean }) => {
      const release = claimOutput(prepareOutputFile({ out: o.out, inputs: [input], force: o.force }), 'mask invert');
      let r;
      try {
        r = withMaskFiles([input], ([m]) => writeLike(m, o.out, encodingOf(o.to, m.encoding), (n) => not(m.read(n)), { expression: `!${path.basename(input, '.safetensors')}` }));
      } finally {
        release();
      }
      print(o.json, { in: input, out: o.out, ...r }, `¬${input} → ${o.out} (${r.selected} of ${r.total} selected)`);
    });

  mask
    .command('eval')
    .description('set algebra over mask files, e.g. "en & it & !benign": & and | or - (difference) ! ~ not xor ( )')
    .argument('<expression>', 'expression over mask names')
    .requiredOption('--out <file>', 'output mask file')
    .option('--dir <dir>', 'where <name>.safetensors files are looked up', '.')
    .option('--mask <name=path...>', 'explicit file for a name (repeatable)')
    .option('--bitpack', 'write a bitpacked mask')
    .option('--force', 'overwrite an existing output file')
    .option('--json', 'print a JSON summary')
    .action((expr: string, o: { out: string; dir: string; mask?: string[]; bitpack?: boolean; json?: boolean; force?: boolean }) => {
      const r = evalMaskCommand(expr, o.out, o);
      print(o.json, { out: o.out, ...r }, `${r.expression} → ${o.out} (${r.selected} of ${r.total} selected)`);
    });
}
