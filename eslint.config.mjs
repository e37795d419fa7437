// Lint states the plan: type-aware rules for promise handling, the floor order of src/ and the decrypt path.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** src/ folders from the bottom floor up: a folder imports only from its own floor or below. */
export const FLOORS = [
  ['config'],
  ['common', 'kms', 'console', 'generated'],
  ['database'],
  ['limits', 'queue', 'brokers', 'notifications'],
  ['audit', 'observability'],
  ['workspaces', 'credentials', 'orders', 'routes', 'webhooks', 'positions', 'cli'],
  ['signals'],
  ['routing'],
  ['app'],
];

const floorZones = FLOORS.slice(0, -1).flatMap((floor, level) =>
  floor.map((folder) => ({
    target: `./src/${folder}`,
    from: FLOORS.slice(level + 1)
      .flat()
      .map((upper) => `./src/${upper}`),
    message: `src/${folder} is on floor ${level}: it may import only from its own floor or below (eslint.config.mjs FLOORS).`,
  })),
);

const decryptPathZones = [
  {
    target: ['./src/!(routing|app)/**', './src/app/!(worker.module).ts', './src/*.ts'],
    from: './src/routing',
    message: "src/routing is the worker's room: only src/app/worker.module.ts imports it.",
  },
  {
    target: './src/!(routing)/**',
    from: './src/routing/credential-opener.ts',
    message: 'Only src/routing opens a sealed broker credential.',
  },
];

/** Routing's pure core (planning, the connection turns) touches no database, queue, audit trail or credential: its unit specs need none. */
const pureCoreZones = [
  {
    target: ['./src/routing/order-plan.ts', './src/routing/bracket-prices.ts', './src/routing/connection-turns.ts', './src/routing/position-rules.ts'],
    from: [
      './src/database',
      './src/queue',
      './src/audit',
      './src/kms',
      './src/credentials',
      './src/routing/routing.repository.ts',
      './src/routing/credential-opener.ts',
    ],
    message: "src/routing's pure core (planning, turns) imports no database, queue, audit trail or credential (test/unit runs it without them).",
  },
];

export const configOnlyRule = {
  'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read settings through src/config (one typed config).' }],
};

export const planRules = {
  'import-x/no-cycle': ['error', { ignoreExternal: true }],
  'import-x/no-restricted-paths': ['error', { zones: [...floorZones, ...decryptPathZones, ...pureCoreZones] }],
};

export const importResolver = createTypeScriptImportResolver({ project: ['tsconfig.json', 'web/tsconfig.json'], noWarnOnMultipleProjects: true });

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'dist-bench/**',
      'web/dist/**',
      'src/generated/**',
      'coverage/**',
      '.data/**',
      'bench/results/**',
      'docs/console/**',
      'node_modules/**',
      'web/src/api/schema.d.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: { ...globals.node },
    },
    settings: { 'import-x/resolver-next': [importResolver] },
    plugins: { 'import-x': importX },
    rules: {
      // Type-aware where it catches bugs: a promise nobody awaits or handles.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'file', name: 'sent', path: 'src/database/tenant-db.ts' }] }],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      'no-useless-assignment': 'off',
      'no-control-regex': 'off',
    },
  },
  {
    // Tests and the benchmark read HTTP answers as untyped JSON on purpose: the assertions are the types.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-require-imports': 'off' },
  },
  { files: ['src/**/*.ts'], rules: planRules },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/config/**'],
    rules: configOnlyRule,
  },
  { files: ['web/src/**/*.{ts,tsx}'], languageOptions: { globals: { ...globals.browser } } },
  {
    files: ['**/*.{js,mjs,cjs}', 'web/vite.config.ts', 'prisma.config.ts'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  prettier,
);
