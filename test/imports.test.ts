/**
 * src/ has no import cycle, type imports included. import-x/no-cycle (npm run lint) lets a cycle
 * through when one of its imports is type-only; this scan reads every import, export-from, require
 * and import() of every module in src/ (TypeScript's own pre-processor, `import type` too) and
 * fails on any cycle, naming it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';

const SRC = path.resolve(__dirname, '..', 'src');

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** The module a relative specifier names (`x.ts`, or `x/index.ts`); null for a package or a data file. */
function resolveModule(from: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  const base = path.resolve(path.dirname(from), spec.replace(/\.js$/, ''));
  for (const p of [`${base}.ts`, path.join(base, 'index.ts')]) if (fs.existsSync(p)) return p;
  return null;
}

/** Each module of `root` and the modules it imports, type imports included. */
function importGraph(root: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of tsFiles(root)) {
    const { importedFiles } = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
    const deps = importedFiles.map((f) => resolveModule(file, f.fileName)).filter((p): p is string => p !== null && p !== file);
    graph.set(file, [...new Set(deps)]);
  }
  return graph;
}

/** One cycle per strongly connected component of more than one module (Tarjan), as a path a → … → a. */
function findCycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) components.push(comp);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  // a concrete cycle through each component: from its first module, breadth-first back to it
  return components.map((comp) => {
    const inComp = new Set(comp);
    const start = [...comp].sort()[0];
    const prev = new Map<string, string>();
    const queue = [start];
    while (queue.length > 0) {
      const v = queue.shift()!;
      for (const w of graph.get(v) ?? []) {
        if (!inComp.has(w)) continue;
        if (w === start) {
          const cycle = [start];
          for (let u: string | undefined = v; u !== undefined && u !== start; u = prev.get(u)) cycle.splice(1, 0, u);
          return [...cycle, start];
        }
        if (!prev.has(w)) {
          prev.set(w, v);
          queue.push(w);
        }
      }
    }
    return [...comp, comp[0]];
  });
}

describe('import cycles in src/', () => {
  it('the scan finds a cycle closed by a type-only import, and none in an acyclic pair', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sil-cycles-'));
    try {
      fs.writeFileSync(path.join(dir, 'a.ts'), "import type { B } from './b';\nexport const a = 1;\nexport type A = B;\n");
      fs.writeFileSync(path.join(dir, 'b.ts'), "import { a } from './a';\nexport type B = number;\nexport const b = a;\n");
      fs.writeFileSync(path.join(dir, 'c.ts'), "import { a } from './a';\nexport const c = a;\n");
      const cycles = findCycles(importGraph(dir)).map((c) => c.map((f) => path.basename(f)));
      expect(cycles).toEqual([['a.ts', 'b.ts', 'a.ts']]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('no module of src/ imports itself back through any chain of imports, type imports included', () => {
    const graph = importGraph(SRC);
    expect(graph.size).toBeGreaterThan(100);
    const cycles = findCycles(graph).map((c) => c.map((f) => path.relative(SRC, f)).join(' → '));
    expect(cycles).toEqual([]);
  });
});
