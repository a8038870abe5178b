// Lint: typescript-eslint's type-checked rules everywhere, plus a purity fence around src/core.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const impure = [
  { name: 'Date', message: 'The core takes time as the `now` argument.' },
  { name: 'performance', message: 'The core takes time as the `now` argument.' },
  { name: 'setTimeout', message: 'The core never starts timers: return a deadline.' },
  { name: 'setInterval', message: 'The core never starts timers: return a deadline.' },
  { name: 'setImmediate', message: 'The core never starts timers: return a deadline.' },
  { name: 'queueMicrotask', message: 'The core is synchronous.' },
  { name: 'process', message: 'The core does no I/O.' },
  { name: 'fetch', message: 'The core does no I/O.' },
  { name: 'console', message: 'The core does no I/O: return decisions.' },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.fare/**', 'out/**', 'bench/results/**', 'bin/**', 'native/**', 'build/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
    },
  },
  {
    // Example functions are plain JavaScript as users write them: lint without type information.
    files: ['examples/**/*.mjs', 'examples/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { parserOptions: { projectService: false, project: null }, globals: { console: 'readonly', process: 'readonly' } },
  },
  {
    // The live dashboard's page script: plain browser JavaScript, served as it is (no build step).
    files: ['src/live/gateway/dashboard/page.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      sourceType: 'script',
      parserOptions: { projectService: false, project: null },
      globals: Object.fromEntries(['window', 'document', 'sessionStorage', 'fetch', 'AbortController', 'TextDecoderStream', 'ResizeObserver', 'CSS', 'Node', 'setTimeout', 'clearTimeout', 'JSON', 'console'].map((g) => [g, 'readonly'])),
    },
  },
  {
    // The launcher process's script (src/live/runtime/launcher.ts forks it): plain Node.js, run without a loader.
    files: ['src/live/runtime/launcher-process.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { parserOptions: { projectService: false, project: null }, globals: { process: 'readonly', Promise: 'readonly' } },
  },
  {
    // The profiler wrapper that benchmarks start as a program (plain Node.js: no TypeScript loader there).
    files: ['bench/**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { parserOptions: { projectService: false, project: null }, globals: { process: 'readonly' } },
  },
  {
    // The hostile and victim functions of the security tests: plain Node.js, as tenants write them.
    files: ['test/security/functions/**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      parserOptions: { projectService: false, project: null },
      globals: Object.fromEntries(['console', 'process', 'Buffer', 'setImmediate', 'setTimeout', 'fetch', 'globalThis'].map((g) => [g, 'readonly'])),
    },
  },
  {
    files: ['src/core/**/*.ts'],
    ignores: ['src/core/**/*.test.ts'],
    rules: {
      'no-restricted-globals': ['error', ...impure],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'Use the injected Rng.' }],
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'fs', 'path', 'os', 'child_process', 'http', 'net', 'crypto', 'worker_threads'], message: 'The core does no I/O.' },
          { group: ['**/sim/**', '**/live/**', '**/cli/**', '../sim/*', '../live/*', '../cli/*'], message: 'The core imports nothing from the drivers.' },
          { regex: '^[^.]', message: 'The core imports no packages.' },
        ],
      }],
      '@typescript-eslint/require-await': 'off',
      'no-restricted-syntax': ['error', { selector: 'AwaitExpression', message: 'The core is synchronous.' }, { selector: 'FunctionDeclaration[async=true]', message: 'The core is synchronous.' }],
    },
  },
);
