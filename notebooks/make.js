#!/usr/bin/env node
// @ts-check
/**
 * Writes each notebook (`NN-name.ipynb`) from its TypeScript source (`NN-name.ts`, jupytext's
 * percent format): `// %%` starts a code cell (TypeScript for the tslab kernel), `// %% [markdown]`
 * a markdown cell whose lines follow `// `; what comes before the first cell (a comment and
 * `export {}`, which makes the file a module for `tsc -p tsconfig.notebooks.json`) is not part of the
 * notebook. Cells keep their text without leading and trailing blank lines.
 *
 *   node notebooks/make.js           writes every .ipynb
 *   node notebooks/make.js --check   exits 1, naming the files, when an .ipynb differs from its source
 */
const fs = require('node:fs');
const path = require('node:path');

/** @typedef {{ kind: 'code' | 'markdown', source: string }} Cell */

/** @param {string} text @returns {Cell[]} */
function parseCells(text) {
  /** @type {Cell[]} */
  const cells = [];
  /** @type {{ kind: 'code' | 'markdown', lines: string[] } | null} */
  let cur = null;
  const flush = () => {
    if (cur) cells.push({ kind: cur.kind, source: cur.lines.join('\n').replace(/^\n+|\n+$/g, '') });
  };
  for (const line of text.split('\n')) {
    const m = /^\/\/ %%( \[markdown\])?\s*$/.exec(line);
    if (m) {
      flush();
      cur = { kind: m[1] ? 'markdown' : 'code', lines: [] };
    } else if (cur) {
      if (cur.kind === 'markdown') {
        if (line !== '' && line !== '//' && !line.startsWith('// ')) throw new Error(`markdown line without "// ": ${JSON.stringify(line)}`);
        cur.lines.push(line.startsWith('// ') ? line.slice(3) : line === '//' ? '' : line);
      } else cur.lines.push(line);
    }
  }
  flush();
  return cells;
}

/** The .ipynb text for a source: nbformat 4.5, the tslab kernel, cell ids c00, c01, … @param {string} text */
function notebookJson(text) {
  const cells = parseCells(text).map((c, i) => ({
    cell_type: c.kind,
    id: `c${String(i).padStart(2, '0')}`,
    metadata: {},
    source: c.source,
    ...(c.kind === 'code' ? { execution_count: null, outputs: [] } : {}),
  }));
  const nb = {
    cells,
    metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript', language: 'typescript' }, language_info: { name: 'typescript' } },
    nbformat: 4,
    nbformat_minor: 5,
  };
  return JSON.stringify(nb, null, 1) + '\n';
}

/** Every notebook source in `dir` with the .ipynb it makes. @param {string} dir */
function sources(dir = __dirname) {
  return fs
    .readdirSync(dir)
    .filter((f) => /^\d\d-.*\.ts$/.test(f))
    .sort()
    .map((f) => ({ source: path.join(dir, f), notebook: path.join(dir, f.replace(/\.ts$/, '.ipynb')) }));
}

/** The notebooks that differ from their sources (or are missing). @param {string} dir */
function stale(dir = __dirname) {
  return sources(dir)
    .filter(({ source, notebook }) => !fs.existsSync(notebook) || fs.readFileSync(notebook, 'utf8') !== notebookJson(fs.readFileSync(source, 'utf8')))
    .map(({ notebook }) => path.basename(notebook));
}

if (require.main === module) {
  if (process.argv.includes('--check')) {
    const bad = stale();
    if (bad.length) {
      console.error(`${bad.join(', ')} differ from their .ts sources; run node notebooks/make.js`);
      process.exitCode = 1;
    } else console.log(`${sources().length} notebooks match their sources`);
  } else {
    for (const { source, notebook } of sources()) fs.writeFileSync(notebook, notebookJson(fs.readFileSync(source, 'utf8')));
  }
}

module.exports = { parseCells, notebookJson, sources, stale };
