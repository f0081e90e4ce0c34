// @ts-check
/**
 * Lint: typescript-eslint with type information (tsconfig.test.json for src/ and test/,
 * tsconfig.tools.json for the JavaScript tools), and the import rules that keep the layers of
 * docs/architecture.md. `npm run lint` checks; `npm run lint -- --fix` applies the fixable rules.
 */
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

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
    files: ['bench/**/*.js', 'scripts/**/*.js', 'notebooks/**/*.js', '.ci/**/*.js'],
    languageOptions: { ...typed(['./tsconfig.tools.json']), sourceType: 'commonjs' },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: { '@typescript-eslint/no-floating-promises': 'error' },
  },
];
