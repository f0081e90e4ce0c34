// @ts-check
/**
 * Lint: typescript-eslint with type information (tsconfig.test.json for src/ and test/,
 * tsconfig.tools.json for the JavaScript tools), and the import rules that keep the layers of
 * docs/architecture.md. `npm run lint` checks; `npm run lint -- --fix` applies the fixable rules.
 */
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

/**
 * The layers of src/ (docs/architecture.md), bottom first: a folder or root module may import only
 * from layers below its own (the shared base modules may also import each other; import-x/no-cycle
 * keeps that acyclic; test/imports.test.ts also catches cycles closed by a type-only import, which the rule lets through). A new folder is placed here.
 */
export const LAYERS = [
  ['errors.ts', 'options.ts', 'ranges.ts', 'version.ts', 'progress.ts', 'families', 'stats', 'select', 'workers'],
  ['io', 'blas', 'cuda', 'tokenizer', 'data'],
  ['model', 'mask', 'delta'],
  ['score', 'generate', 'stream'],
  ['stitch', 'train', 'eval', 'locate'],
  ['report'],
  ['sweep'],
  ['cli', 'index.ts'],
];

/** For each entry: every entry of a higher layer, and (above the base) the other entries of its own layer. */
const layerZones = LAYERS.flatMap((layer, i) =>
  layer.map((target) => ({
    target: `./src/${target}`,
    from: [...(i === 0 ? [] : layer.filter((f) => f !== target)), ...LAYERS.slice(i + 1).flat()].map((f) => `./src/${f}`),
    message: `src/${target} is in layer ${i} of docs/architecture.md and may import only from the layers below it`,
  })),
).filter((z) => z.from.length > 0);

const typed = (project) => ({ parser: tseslint.parser, parserOptions: { project, tsconfigRootDir: import.meta.dirname } });

export default [
  { ignores: ['dist/', 'node_modules/', 'weights/', 'reports/', 'coverage/', 'data/'] },
  { linterOptions: { reportUnusedDisableDirectives: 'off' } },
  ...tseslint.configs.recommended.map((c) => ({ ...c, files: ['src/**/*.ts', 'test/**/*.ts'] })),
  {
    files: ['src/**/*.ts', 'test/**/*.ts'],
    languageOptions: typed(['./tsconfig.test.json']),
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.test.json' })] },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      'import-x/no-cycle': 'error',
      // unused names: tsc's noUnusedLocals / noUnusedParameters (a leading _ marks a parameter kept on purpose)
      '@typescript-eslint/no-unused-vars': 'off',
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: { 'import-x/no-restricted-paths': ['error', { zones: layerZones }] },
  },
  {
    files: ['bench/**/*.js', 'scripts/**/*.js', 'notebooks/**/*.js', '.ci/**/*.js'],
    languageOptions: { ...typed(['./tsconfig.tools.json']), sourceType: 'commonjs' },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: { '@typescript-eslint/no-floating-promises': 'error' },
  },
];
